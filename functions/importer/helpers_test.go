package importer

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// world is an importer over the real services.
type world struct {
	t       testing.TB
	svc     *platform.Services
	objects *objstore.Store
	f       *Function
}

func defaultConfig() Config {
	return Config{Quota: storage.Quota{QuotaBytes: 1 << 30}, RunTimeout: time.Minute, BatchSize: 50,
		MaxFiles: 1000, MaxUncompressedBytes: 1 << 30, MaxRatio: 100}
}

func newWorld(t testing.TB, cfg Config) *world {
	t.Helper()
	svc := testenv.Services(t)
	objects := testenv.Objects(t)
	f, err := NewWithServices(cfg, svc.DB, svc.Redis, objects)
	if err != nil {
		t.Fatalf("NewWithServices() = %v", err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) }) // its relay, before svc closes
	return &world{t: t, svc: svc, objects: objects, f: f}
}

// wantEntriesChanged checks that the outbox holds one entry.changed "created" for each
// of the user's n entries, and nothing else.
func wantEntriesChanged(t *testing.T, w *world, userID string, n int) {
	t.Helper()
	events := testenv.Outbox(t, w.svc.DB, userID)
	seen := map[string]bool{}
	for _, e := range events {
		var d eventing.EntryChanged
		if err := json.Unmarshal(e.Data, &d); err != nil || e.Type != eventing.TypeEntryChanged || d.Change != "created" ||
			d.UserID != userID || e.Subject != d.EntryID || seen[d.EntryID] {
			t.Errorf("outbox event %+v, want one entry.changed created per entry", e)
		}
		seen[d.EntryID] = true
	}
	if got := w.count(`SELECT count(*) FROM entries WHERE user_id = $1 AND id = ANY($2::uuid[])`, userID, keys(seen)); len(events) != n || got != n {
		t.Errorf("%d entry.changed events naming %d of the user's entries, want %d", len(events), got, n)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// staged is an import whose zip is uploaded and whose start was called.
type staged struct {
	user     testenv.User
	importID string
	jobID    string
	key      string
}

// stage does what POST /imports, the PUT and POST /imports/{id}/start do: an import row,
// queued with its job, and the zip at its staging key.
func (w *world) stage(u testenv.User, format string, zipBytes []byte) staged {
	w.t.Helper()
	ctx := context.Background()
	s := staged{user: u, importID: uuid.NewString()}
	s.key = "u/" + u.ID + "/imports/" + s.importID + ".zip"
	sum := sha256.Sum256(zipBytes)
	if err := w.objects.Put(ctx, s.key, bytes.NewReader(zipBytes), int64(len(zipBytes)), sum[:], "application/zip"); err != nil {
		w.t.Fatalf("put zip: %v", err)
	}
	err := store.Transact(ctx, w.svc.DB, func(tx pgx.Tx) error {
		var err error
		if s.jobID, err = job.Queue(ctx, tx, u.ID, "import"); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO imports (id, user_id, format, status, size_bytes, sha256, staging_key, upload_expires_at, job_id)
			VALUES ($1, $2, $3, 'queued', $4, $5, $6, now(), $7)`,
			s.importID, u.ID, format, len(zipBytes), sum[:], s.key, s.jobID)
		return err
	})
	if err != nil {
		w.t.Fatalf("stage import: %v", err)
	}
	return s
}

// event is the import.requested the start call emits.
func (s staged) event(t testing.TB) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypeImportRequested)
	ev.SetSource(eventing.SourceArchive)
	ev.SetTime(time.Now())
	if err := ev.SetData("application/json", eventing.ImportRequested{UserID: s.user.ID, ImportID: s.importID, JobID: s.jobID}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// run delivers the import's event once and expects it acknowledged.
func (w *world) run(s staged) importState {
	w.t.Helper()
	if _, err := w.f.Handle(context.Background(), s.event(w.t)); err != nil {
		w.t.Fatalf("Handle() = %v", err)
	}
	return w.state(s)
}

// importState is the import's row as GET /imports/{id} shows it.
type importState struct {
	Status         string
	EntriesCreated int
	MediaCreated   int
	Skipped        int
	Errors         []itemError
	Failure        *string
	StagingKey     *string
	JobStatus      string
	JobError       *string
}

func (w *world) state(s staged) importState {
	w.t.Helper()
	var st importState
	var errs []byte
	err := w.svc.DB.QueryRow(context.Background(), `
		SELECT i.status, i.entries_created, i.media_created, i.skipped, i.errors, i.failure, i.staging_key, j.status, j.error
		FROM imports i JOIN jobs j ON j.id = i.job_id WHERE i.id = $1`, s.importID).
		Scan(&st.Status, &st.EntriesCreated, &st.MediaCreated, &st.Skipped, &errs, &st.Failure, &st.StagingKey, &st.JobStatus, &st.JobError)
	if err != nil {
		w.t.Fatalf("read import: %v", err)
	}
	if err := json.Unmarshal(errs, &st.Errors); err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.svc.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (w *world) objectExists(key string) bool {
	w.t.Helper()
	_, ok, err := w.objects.Head(context.Background(), key)
	if err != nil {
		w.t.Fatal(err)
	}
	return ok
}

// redeemed is an entry of the user as they will read it, its pending box opened.
type redeemed struct {
	ID         string
	Title      *string
	Content    string
	Tags       []string
	Mood       *string
	Source     string
	OccurredAt time.Time
}

// entriesOf returns the user's entries, oldest first, opening uce intake boxes with the
// user's private key (what redemption does on their next request).
func (w *world) entriesOf(u testenv.User) []redeemed {
	w.t.Helper()
	rows, err := w.svc.DB.Query(context.Background(), `
		SELECT id, intake_box, tags, mood, source, occurred_at FROM entries WHERE user_id = $1 ORDER BY occurred_at, id`, u.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []redeemed
	for rows.Next() {
		var e redeemed
		var box []byte
		if err := rows.Scan(&e.ID, &box, &e.Tags, &e.Mood, &e.Source, &e.OccurredAt); err != nil {
			w.t.Fatal(err)
		}
		if box == nil {
			w.t.Fatalf("entry %s is not pending: imported uce entries wait for redemption", e.ID)
		}
		b, err := intake.Open(u.PrivateKey, e.ID, box)
		if err != nil {
			w.t.Fatalf("open entry %s: %v", e.ID, err)
		}
		e.Title, e.Content = b.Title, b.Content
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// zipFile is one file of a test zip.
type zipFile struct {
	name   string
	data   []byte
	method uint16
}

func buildZip(t testing.TB, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: f.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

var testTime = time.Date(2023, 5, 1, 10, 0, 0, 0, time.UTC)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
