package purge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// world is a purge on the test services, with the object store it deletes from.
type world struct {
	t       testing.TB
	svc     *platform.Services
	objects *objstore.Store
	f       *Function
}

func newWorld(t testing.TB) *world {
	t.Helper()
	var cfg Config
	if err := config.Load(testenv.Env(t), &cfg); err != nil {
		t.Fatalf("config.Load() = %v (run under scripts/test, which sets the S3_* settings)", err)
	}
	// Small batches: a purge of a few dozen rows walks several of them.
	cfg.BatchSize = 7
	objects, err := objstore.New(cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := testenv.Services(t)
	f, err := NewWithServices(cfg, svc.DB, objects)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, svc: svc, objects: objects, f: f}
}

// account is a user with rows in several tables and objects in S3.
type account struct {
	user    testenv.User
	jobID   string
	entries []string
	keys    []string
}

// newAccount makes a user with n entries (each with history rows), m media rows each with
// an object under the user's prefix, an object no row refers to, and recovery codes.
func (w *world) newAccount(n, m int) account {
	w.t.Helper()
	ctx := context.Background()
	a := account{user: testenv.NewUser(w.t, w.svc, "uce")}
	now := time.Now().UTC()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	a.entries = ids
	if n > 0 {
		if _, err := w.svc.DB.Exec(ctx, `
			INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, content_bytes)
			SELECT id, $2, '\x00'::bytea, 1, $3, $3, $3, 1 FROM unnest($1::uuid[]) AS id`, ids, a.user.ID, now); err != nil {
			w.t.Fatalf("insert entries: %v", err)
		}
		if _, err := w.svc.DB.Exec(ctx, `
			INSERT INTO entry_events (entry_id, user_id, event_type, version, at)
			SELECT id, user_id, 'created', 1, created_at FROM entries WHERE user_id = $1`, a.user.ID); err != nil {
			w.t.Fatalf("insert entry events: %v", err)
		}
	}
	for i := range m {
		key := userPrefix(a.user.ID) + uuid.NewString()
		var entry any
		if i < n {
			entry = ids[i]
		}
		if _, err := w.svc.DB.Exec(ctx, `
			INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256, status,
				upload_expires_at, completed_at)
			VALUES ($1, $2, $3, $4, 'x', 'image/png', 1, $5, 'ready', now(), now())`,
			uuid.NewString(), a.user.ID, entry, key, make([]byte, 32)); err != nil {
			w.t.Fatalf("insert media: %v", err)
		}
		a.keys = append(a.keys, key)
	}
	a.keys = append(a.keys, userPrefix(a.user.ID)+"stray-upload")
	putObjects(w.t, w.objects, a.keys)
	if _, err := w.svc.DB.Exec(ctx, `
		INSERT INTO recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)`,
		uuid.NewString(), a.user.ID, randomBytes(w.t, 32)); err != nil {
		w.t.Fatalf("insert recovery code: %v", err)
	}
	return a
}

// deleteAccount does what DELETE /api/v1/auth/me does to the database (auth's shredUser):
// the user marked deleted and its keys erased, the purge job queued. It returns the event
// auth then emits.
func (w *world) deleteAccount(a *account) event.Event {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.svc.DB.Exec(ctx, `
		UPDATE users SET deleted_at = now(), password_hash = '', kdf_salt = NULL, wrapped_master_key = NULL,
			wrapped_private_key = NULL WHERE id = $1`, a.user.ID); err != nil {
		w.t.Fatalf("mark deleted: %v", err)
	}
	if _, err := w.svc.DB.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, a.user.ID); err != nil {
		w.t.Fatal(err)
	}
	var err error
	if a.jobID, err = job.Queue(ctx, w.svc.DB, a.user.ID, "account_purge"); err != nil {
		w.t.Fatal(err)
	}
	return accountDeleted(w.t, a.user.ID, a.jobID)
}

func (w *world) now() time.Time { return time.Now() }

func accountDeleted(t testing.TB, userID, jobID string) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypeAccountDeleted)
	ev.SetSource(eventing.SourceAuth)
	ev.SetSubject(userID)
	ev.SetTime(time.Now())
	if err := ev.SetData(event.ApplicationJSON, eventing.AccountDeleted{UserID: userID, JobID: jobID}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// putObjects stores a small object at each key, through presigned PUTs as clients do.
func putObjects(t testing.TB, s *objstore.Store, keys []string) {
	t.Helper()
	body := []byte("x")
	sum := sha256.Sum256(body)
	for _, key := range keys {
		put, err := s.PresignPut(context.Background(), key, 1, sum[:], "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(put.Method, put.URL, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range put.Header {
			req.Header.Set(k, v)
		}
		req.ContentLength = 1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s = %d", key, resp.StatusCode)
		}
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// rowsMentioning is what a dump of the database holds of needle, table by table.
func rowsMentioning(t testing.TB, w *world, needle string) map[string]int {
	t.Helper()
	return testenv.RowsMentioning(t, w.svc.DB, needle)
}

// objectsLeft reports which of keys still exist.
func objectsLeft(t testing.TB, s *objstore.Store, keys []string) []string {
	t.Helper()
	var left []string
	for _, key := range keys {
		_, ok, err := s.Head(context.Background(), key)
		if err != nil {
			t.Fatalf("Head(%s) = %v", key, err)
		}
		if ok {
			left = append(left, key)
		}
	}
	return left
}
