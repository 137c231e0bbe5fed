package main

import (
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

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/janitor"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// mediaWorld is the whole API in-process with a 1000-byte quota, plus the janitor, over
// the same database and bucket: what the media quota, auth's /features and the daily
// cleanup say about one user's storage, together.
type mediaWorld struct {
	t       *testing.T
	h       http.Handler
	svc     *platform.Services
	objects *objstore.Store
	janitor *janitor.Function
	ping    local.PingSource
	user    testenv.User
}

func newMediaWorld(t *testing.T) *mediaWorld {
	t.Helper()
	env := inProcessEnv(t)
	env["STORAGE_QUOTA_BYTES"] = "1000"
	w := &mediaWorld{t: t, h: startGateway(t, diary.NewInProcess(groupFunctions()), env), svc: testenv.Services(t)}
	var cfg janitor.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load(janitor) = %v", err)
	}
	objects, err := objstore.New(cfg.Config)
	if err != nil {
		t.Fatalf("objstore.New() = %v", err)
	}
	w.objects = objects
	if w.janitor, err = janitor.NewWithServices(cfg, w.svc.DB, objects); err != nil {
		t.Fatalf("janitor.NewWithServices() = %v", err)
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatalf("local.Load() = %v", err)
	}
	var ok bool
	if w.ping, ok = m.PingSource("daily-cleanup"); !ok {
		t.Fatal("no PingSource daily-cleanup")
	}
	w.user = testenv.NewUser(t, w.svc, "e2e")
	return w
}

// cleanup delivers a daily-cleanup tick to the janitor.
func (w *mediaWorld) cleanup() {
	w.t.Helper()
	ev, err := local.PingEvent(w.ping, time.Now())
	if err != nil {
		w.t.Fatalf("PingEvent() = %v", err)
	}
	if _, err := w.janitor.Handle(context.Background(), ev); err != nil {
		w.t.Fatalf("janitor Handle(tick) = %v", err)
	}
}

func (w *mediaWorld) do(method, path string, body any) testenv.Response {
	w.t.Helper()
	return testenv.Do(w.t, w.h, method, path, w.user.AccessToken, body)
}

type mediaAnswer struct {
	Media struct {
		ID      string  `json:"id"`
		EntryID *string `json:"entry_id"`
		Status  string  `json:"status"`
	} `json:"media"`
	Upload *struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"upload"`
	Deduplicated bool `json:"deduplicated"`
}

// upload declares data (for entryID, unless empty) and answers the status and the answer.
func (w *mediaWorld) upload(data []byte, entryID string) (int, mediaAnswer) {
	w.t.Helper()
	sum := sha256.Sum256(data)
	body := map[string]any{"filename": "f.png", "content_type": "image/png", "size_bytes": len(data), "sha256": hex.EncodeToString(sum[:])}
	if entryID != "" {
		body["entry_id"] = entryID
	}
	resp := w.do(http.MethodPost, "/api/v1/media/upload", body)
	var a mediaAnswer
	if resp.Code == http.StatusOK || resp.Code == http.StatusCreated {
		resp.JSON(w.t, &a)
	}
	return resp.Code, a
}

// put sends data to the upload's presigned URL.
func (w *mediaWorld) put(a mediaAnswer, data []byte) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPut, a.Upload.URL, bytes.NewReader(data))
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range a.Upload.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("PUT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("PUT = %d, want 200", resp.StatusCode)
	}
}

// usedBytes is auth's /features storage.used_bytes.
func (w *mediaWorld) usedBytes() int64 {
	w.t.Helper()
	resp := w.do(http.MethodGet, "/api/v1/auth/features", nil)
	var f struct {
		Storage struct {
			UsedBytes int64 `json:"used_bytes"`
		} `json:"storage"`
	}
	resp.JSON(w.t, &f)
	if resp.Code != http.StatusOK {
		w.t.Fatalf("GET /features = %d %s", resp.Code, resp.Body)
	}
	return f.Storage.UsedBytes
}

func (w *mediaWorld) objectKey(mediaID string) string {
	w.t.Helper()
	var key string
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT object_key FROM media WHERE id = $1`, mediaID).Scan(&key); err != nil {
		w.t.Fatalf("object key of %s: %v", mediaID, err)
	}
	return key
}

func (w *mediaWorld) objectExists(key string) bool {
	w.t.Helper()
	_, ok, err := w.objects.Head(context.Background(), key)
	if err != nil {
		w.t.Fatalf("Head(%s) = %v", key, err)
	}
	return ok
}

// age moves a media row's times back by d, as if it had been created (and its URL had
// expired, and it had been deleted) d earlier.
func (w *mediaWorld) age(mediaID string, d time.Duration) {
	w.t.Helper()
	_, err := w.svc.DB.Exec(context.Background(), `
		UPDATE media SET created_at = created_at - $2::interval, upload_expires_at = upload_expires_at - $2::interval,
		                 deleted_at = deleted_at - $2::interval
		 WHERE id = $1`, mediaID, d.String())
	if err != nil {
		w.t.Fatalf("age media: %v", err)
	}
}

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExpiredPendingUploadCountsUntilTheJanitorRemovesIt(t *testing.T) {
	w := newMediaWorld(t)
	late := randomData(t, 700)
	status, a := w.upload(late, "")
	if status != http.StatusCreated {
		t.Fatalf("POST /upload = %d, want 201", status)
	}
	w.put(a, late)
	key := w.objectKey(a.Media.ID)
	// Never completed, and its URL expired a day and a bit ago: past PENDING_UPLOAD_TTL
	// (24h after the expiry), the next cleanup removes it.
	w.age(a.Media.ID, 25*time.Hour)

	if status, _ := w.upload(randomData(t, 301), ""); status != http.StatusForbidden {
		t.Errorf("POST /upload of 301 bytes beside the expired 700-byte upload = %d, want 403", status)
	}
	if got := w.usedBytes(); got != 700 {
		t.Errorf("/features used_bytes with the expired upload = %d, want 700", got)
	}

	w.cleanup()

	if resp := w.do(http.MethodGet, "/api/v1/media/"+a.Media.ID, nil); resp.Code != http.StatusNotFound {
		t.Errorf("GET the expired upload after the cleanup = %d, want 404", resp.Code)
	}
	if w.objectExists(key) {
		t.Errorf("the expired upload's object survived the cleanup")
	}
	if got := w.usedBytes(); got != 0 {
		t.Errorf("/features used_bytes after the cleanup = %d, want 0", got)
	}
	if status, _ := w.upload(randomData(t, 301), ""); status != http.StatusCreated {
		t.Errorf("POST /upload of 301 bytes after the cleanup = %d, want 201", status)
	}
}

func TestSharedMediaObjectLivesUntilItsLastRowIsRemoved(t *testing.T) {
	w := newMediaWorld(t)
	var entries [2]string
	for i := range entries {
		entries[i] = uuid.NewString()
		_, err := w.svc.DB.Exec(context.Background(), `
			INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, change_seq, content_bytes)
			VALUES ($1, $2, '\x01', 1, now(), now(), now(), nextval('entry_change_seq'), 1)`, entries[i], w.user.ID)
		if err != nil {
			t.Fatalf("insert entry: %v", err)
		}
	}
	data := randomData(t, 600)
	status, a := w.upload(data, entries[0])
	if status != http.StatusCreated {
		t.Fatalf("POST /upload for entry A = %d, want 201", status)
	}
	w.put(a, data)
	if resp := w.do(http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", nil); resp.Code != http.StatusOK {
		t.Fatalf("POST /complete = %d %s, want 200", resp.Code, resp.Body)
	}
	status, b := w.upload(data, entries[1])
	if status != http.StatusOK || !b.Deduplicated || b.Media.EntryID == nil || *b.Media.EntryID != entries[1] {
		t.Fatalf("POST /upload of the same bytes for entry B = %d %+v, want 200 deduplicated, attached to B", status, b)
	}
	key := w.objectKey(a.Media.ID)

	// Stored once, counted once: 600 of 1000.
	if got := w.usedBytes(); got != 600 {
		t.Errorf("/features used_bytes with the bytes shared by two entries = %d, want 600", got)
	}
	if status, _ := w.upload(randomData(t, 401), ""); status != http.StatusForbidden {
		t.Errorf("POST /upload of 401 bytes beside 600 = %d, want 403", status)
	}
	status, spare := w.upload(randomData(t, 400), "")
	if status != http.StatusCreated {
		t.Errorf("POST /upload of 400 bytes beside 600 = %d, want 201", status)
	}
	w.do(http.MethodDelete, "/api/v1/media/"+spare.Media.ID, nil)

	// A's media deleted (past the download grace) and cleaned up: B's keeps the object.
	if resp := w.do(http.MethodDelete, "/api/v1/media/"+a.Media.ID, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE A = %d, want 204", resp.Code)
	}
	w.age(a.Media.ID, time.Hour)
	w.cleanup()
	if !w.objectExists(key) {
		t.Fatalf("the shared object was removed with A's media while B's still refers to it")
	}
	resp := w.do(http.MethodGet, "/api/v1/media/"+b.Media.ID+"/download", nil)
	var dl struct {
		URL string `json:"url"`
	}
	resp.JSON(t, &dl)
	got, err := http.Get(dl.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if resp.Code != http.StatusOK || got.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("download of B after A's cleanup = %d, then %d with %d bytes; want the 600 bytes", resp.Code, got.StatusCode, len(body))
	}
	if got := w.usedBytes(); got != 600 {
		t.Errorf("/features used_bytes with only B's media = %d, want 600", got)
	}

	// B's deleted too: the object goes.
	if resp := w.do(http.MethodDelete, "/api/v1/media/"+b.Media.ID, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE B = %d, want 204", resp.Code)
	}
	w.age(b.Media.ID, time.Hour)
	w.cleanup()
	if w.objectExists(key) {
		t.Errorf("the shared object survived the cleanup of its last media")
	}
	if got := w.usedBytes(); got != 0 {
		t.Errorf("/features used_bytes after both are gone = %d, want 0", got)
	}
}
