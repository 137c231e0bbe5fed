package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
)

// fixture is the archive function over the real services.
type fixture struct {
	svc     *platform.Services
	objects *objstore.Store
	srv     *server
	h       http.Handler
}

func newFixture(t testing.TB, cfg Config) fixture {
	t.Helper()
	svc := testenv.Services(t)
	objects := testenv.Objects(t)
	if cfg.QuotaBytes == 0 {
		cfg.Quota = storage.Quota{QuotaBytes: 1 << 30}
	}
	s, err := newServer(cfg, svc, objects)
	if err != nil {
		t.Fatalf("newServer() = %v", err)
	}
	return fixture{svc: svc, objects: objects, srv: s, h: routes(s, nil)}
}

// seed is an entry to write straight into the entries table, as the entries function
// would have.
type seed struct {
	title      *string
	content    string
	mood       *string
	tags       []string
	occurredAt time.Time
	deleted    bool
	// ciphertext is an e2e entry's envelope (content and title are then unused).
	ciphertext []byte
}

func ptr[T any](v T) *T { return &v }

// seedEntry inserts the entry for u and returns its id.
func (f fixture) seedEntry(t *testing.T, u testenv.User, e seed) string {
	t.Helper()
	id := uuid.NewString()
	var title, content, ct []byte
	if u.Tier == "uce" {
		b, err := entrybody.Seal(u.MasterKey, u.ID, id, 1, e.title, e.content)
		if err != nil {
			t.Fatal(err)
		}
		title, content = b.Title, b.Content
	} else {
		ct = e.ciphertext
	}
	if e.tags == nil {
		e.tags = []string{}
	}
	var deletedAt *time.Time
	if e.deleted {
		deletedAt = ptr(e.occurredAt.Add(time.Hour))
	}
	_, err := f.svc.DB.Exec(context.Background(), `
		INSERT INTO entries (id, user_id, title_ct, content_ct, ciphertext, body_version, mood, source,
			occurred_at, created_at, updated_at, deleted_at, version, content_bytes, tags)
		VALUES ($1, $2, $3, $4, $5, 1, $6, 'app', $7, $7, $7, $8, 1, $9, $10)`,
		id, u.ID, title, content, ct, e.mood, e.occurredAt, deletedAt, len(title)+len(content)+len(ct), e.tags)
	if err != nil {
		t.Fatalf("insert entry: %v", err)
	}
	return id
}

// seedMedia stores data in S3 and a ready media row of u for it (attached to entryID when
// not empty), as an upload through the media function would have; it returns the id.
func (f fixture) seedMedia(t *testing.T, u testenv.User, entryID, filename, contentType string, data []byte) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	key := mediarow.ObjectKey(u.ID, id)
	sum := sha256.Sum256(data)
	if err := f.objects.Put(ctx, key, bytes.NewReader(data), int64(len(data)), sum[:], contentType); err != nil {
		t.Fatalf("put object: %v", err)
	}
	name := []byte(filename)
	if u.Tier == "uce" {
		var err error
		name, err = crypto.Seal(u.MasterKey, name, crypto.AD{Owner: u.ID, Record: id, Purpose: "media.filename"})
		if err != nil {
			t.Fatal(err)
		}
	}
	var entry *string
	if entryID != "" {
		entry = &entryID
	}
	if _, err := mediarow.InsertReady(ctx, f.svc.DB, mediarow.Row{ID: id, UserID: u.ID, EntryID: entry, ObjectKey: key,
		FilenameCT: name, ContentType: contentType, SizeBytes: int64(len(data)), SHA256: sum[:]}); err != nil {
		t.Fatal(err)
	}
	return id
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// unzip reads a whole zip answer into name -> bytes, in the zip's order.
func unzip(t *testing.T, body []byte) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the answer is not a zip: %v", err)
	}
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("open %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		files[f.Name] = b
		names = append(names, f.Name)
	}
	return files, names
}

// exportZip asks for an export and expects a 200 zip.
func (f fixture) exportZip(t *testing.T, u testenv.User, format string) (map[string][]byte, []string, http.Header) {
	t.Helper()
	res := testenv.Do(t, f.h, http.MethodGet, "/api/v1/export?format="+format, u.AccessToken, nil)
	if res.Code != http.StatusOK {
		t.Fatalf("GET /export?format=%s = %d %s, want 200", format, res.Code, res.Body)
	}
	files, names := unzip(t, res.Body.Bytes())
	return files, names, res.Header()
}

// pgxRows feeds rows to CopyFrom.
func pgxRows(rows [][]any) pgx.CopyFromSource { return pgx.CopyFromRows(rows) }
