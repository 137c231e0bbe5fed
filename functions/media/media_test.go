package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
)

// testObjects connects to the S3 store scripts/test starts; the test fails without it.
func testObjects(t *testing.T) *objstore.Store {
	t.Helper()
	return testenv.Objects(t)
}

// fixture is a media handler over the real services.
type fixture struct {
	svc     *platform.Services
	objects *objstore.Store
	srv     *server
	h       http.Handler
}

type option func(*server)

func withQuota(n int64) option             { return func(s *server) { s.quota = storage.Quota{QuotaBytes: n} } }
func withUploadTTL(d time.Duration) option { return func(s *server) { s.uploadTTL = d } }

func newFixture(t *testing.T, opts ...option) fixture {
	t.Helper()
	svc := testenv.Services(t)
	objects := testObjects(t)
	return newFixtureWith(t, svc, objects, opts...)
}

func newFixtureWith(t *testing.T, svc *platform.Services, objects *objstore.Store, opts ...option) fixture {
	t.Helper()
	s, err := newServer(Config{Quota: storage.Quota{QuotaBytes: 1 << 30}}, svc, objects)
	if err != nil {
		t.Fatalf("newServer() = %v", err)
	}
	for _, o := range opts {
		o(s)
	}
	return fixture{svc: svc, objects: objects, srv: s, h: routes(s, nil)}
}

func randomBytes(t *testing.T, n int) []byte {
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

type uploadAnswer struct {
	Media        mediaView   `json:"media"`
	Upload       *uploadView `json:"upload"`
	Deduplicated bool        `json:"deduplicated"`
}

type errorAnswer struct {
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields"`
}

func uploadBody(name, contentType string, data []byte) map[string]any {
	return map[string]any{"filename": name, "content_type": contentType, "size_bytes": len(data), "sha256": hexSHA256(data)}
}

// requestUpload asks for an upload and expects 201.
func (f fixture) requestUpload(t *testing.T, u testenv.User, body map[string]any) uploadAnswer {
	t.Helper()
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, body)
	if resp.Code != http.StatusCreated {
		t.Fatalf("POST /upload = %d %s, want 201", resp.Code, resp.Body)
	}
	var a uploadAnswer
	resp.JSON(t, &a)
	if a.Upload == nil {
		t.Fatalf("POST /upload = %s, want an upload", resp.Body)
	}
	return a
}

// put sends data to the presigned URL with the given headers, over plain HTTP, as a client
// does, and returns the store's status and answer.
func put(t *testing.T, rawURL string, headers map[string]string, data []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, rawURL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// fetch GETs rawURL (a presigned download) and returns the answer and its body.
func fetch(t *testing.T, rawURL string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET: read body: %v", err)
	}
	return resp, body
}

// uploadReady takes data through upload, PUT and complete, and returns the ready media.
func (f fixture) uploadReady(t *testing.T, u testenv.User, name, contentType string, data []byte) mediaView {
	t.Helper()
	return f.uploadReadyWith(t, u, uploadBody(name, contentType, data), data)
}

// uploadReadyWith is uploadReady with the upload's body as given (an entry_id, say).
func (f fixture) uploadReadyWith(t *testing.T, u testenv.User, body map[string]any, data []byte) mediaView {
	t.Helper()
	a := f.requestUpload(t, u, body)
	if status, answer := put(t, a.Upload.URL, a.Upload.Headers, data); status != http.StatusOK {
		t.Fatalf("PUT to the presigned URL = %d %s, want 200", status, answer)
	}
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("POST /complete = %d %s, want 200", resp.Code, resp.Body)
	}
	var m mediaView
	resp.JSON(t, &m)
	return m
}

func TestFullFlowOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			u := testenv.NewUser(t, f.svc, tier)
			data := randomBytes(t, 200<<10)
			name := "Holiday at the lake " + uuid.NewString()[:8] + ".jpg"
			start := time.Now()

			a := f.requestUpload(t, u, uploadBody(name, "image/jpeg", data))
			m := a.Media
			if m.Status != statusPending || m.Filename != name || m.ContentType != "image/jpeg" ||
				m.SizeBytes != int64(len(data)) || m.SHA256 != hexSHA256(data) || m.EntryID != nil || a.Deduplicated {
				t.Errorf("POST /upload media = %+v (deduplicated %v), want a pending media as declared", m, a.Deduplicated)
			}
			if a.Upload.Method != http.MethodPut {
				t.Errorf("upload.method = %q, want PUT", a.Upload.Method)
			}
			if d := a.Upload.ExpiresAt.Sub(start); a.Upload.ExpiresAt.After(time.Now().Add(15*time.Minute)) || d < 14*time.Minute {
				t.Errorf("upload.expires_at is %v after the request, want at most 15 minutes", d)
			}
			if strings.Contains(a.Upload.URL, "Holiday") || strings.Contains(a.Upload.URL, url.PathEscape(name)) {
				t.Errorf("upload.url = %s, holds the filename", a.Upload.URL)
			}
			wantKey := "/u/" + u.ID + "/" + m.ID
			if pu, err := url.Parse(a.Upload.URL); err != nil || !strings.HasSuffix(pu.Path, wantKey) {
				t.Errorf("upload.url path = %v, want it to end in %s", a.Upload.URL, wantKey)
			}
			wantSum := sha256.Sum256(data)
			for k, want := range map[string]string{
				"Content-Length":        fmt.Sprint(len(data)),
				"Content-Type":          "image/jpeg",
				"X-Amz-Checksum-Sha256": base64Std(wantSum[:]),
			} {
				if got := a.Upload.Headers[k]; got != want {
					t.Errorf("upload.headers[%s] = %q, want %q", k, got, want)
				}
			}

			// The filename never reaches the database in the clear for uce.
			var key string
			var stored []byte
			if err := f.svc.DB.QueryRow(context.Background(),
				`SELECT object_key, filename_ct FROM media WHERE id = $1`, m.ID).Scan(&key, &stored); err != nil {
				t.Fatal(err)
			}
			if key != "u/"+u.ID+"/"+m.ID {
				t.Errorf("object_key = %q, want u/<user>/<media>", key)
			}
			if tier == "uce" && bytes.Contains(stored, []byte("Holiday")) {
				t.Errorf("filename_ct holds the uce filename in the clear")
			}

			if status, answer := put(t, a.Upload.URL, a.Upload.Headers, data); status != http.StatusOK {
				t.Fatalf("PUT = %d %s, want 200", status, answer)
			}
			for i := range 2 { // complete is idempotent
				resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+m.ID+"/complete", u.AccessToken, nil)
				var done mediaView
				resp.JSON(t, &done)
				if resp.Code != http.StatusOK || done.Status != statusReady || done.ID != m.ID || done.Filename != name {
					t.Fatalf("POST /complete #%d = %d %s, want 200 ready", i+1, resp.Code, resp.Body)
				}
			}

			resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+m.ID, u.AccessToken, nil)
			var got mediaView
			resp.JSON(t, &got)
			if resp.Code != http.StatusOK || got.Status != statusReady || got.Filename != name || !got.CreatedAt.Equal(m.CreatedAt) {
				t.Errorf("GET /{id} = %d %s, want the ready media", resp.Code, resp.Body)
			}

			resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+m.ID+"/download", u.AccessToken, nil)
			var dl downloadResponse
			resp.JSON(t, &dl)
			if resp.Code != http.StatusOK {
				t.Fatalf("GET /download = %d %s, want 200", resp.Code, resp.Body)
			}
			if d := time.Until(dl.ExpiresAt); d > 15*time.Minute || d <= 0 {
				t.Errorf("download expires_at is %v from now, want within 15 minutes", d)
			}
			dresp, body := fetch(t, dl.URL)
			if dresp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Errorf("GET download url = %d with %d bytes, want 200 with the %d uploaded bytes", dresp.StatusCode, len(body), len(data))
			}
			if ct := dresp.Header.Get("Content-Type"); ct != "image/jpeg" {
				t.Errorf("download Content-Type = %q, want image/jpeg", ct)
			}

			// Storage in use, as the quota (and auth's /features) counts it.
			used, err := storage.Usage(context.Background(), f.svc.DB, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if used != int64(len(data)) {
				t.Errorf("storage used = %d, want %d", used, len(data))
			}

			resp = testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+m.ID, u.AccessToken, nil)
			if resp.Code != http.StatusNoContent {
				t.Fatalf("DELETE = %d %s, want 204", resp.Code, resp.Body)
			}
			for _, call := range [][2]string{
				{http.MethodGet, "/api/v1/media/" + m.ID},
				{http.MethodGet, "/api/v1/media/" + m.ID + "/download"},
				{http.MethodPost, "/api/v1/media/" + m.ID + "/complete"},
				{http.MethodDelete, "/api/v1/media/" + m.ID},
			} {
				if resp := testenv.Do(t, f.h, call[0], call[1], u.AccessToken, nil); resp.Code != http.StatusNotFound {
					t.Errorf("%s %s after delete = %d, want 404", call[0], call[1], resp.Code)
				}
			}
			// The object stays until the janitor removes it.
			if _, exists, err := f.objects.Head(context.Background(), key); err != nil || !exists {
				t.Errorf("Head(object) after soft delete = %v, %v; want it still there", exists, err)
			}
		})
	}
}

func base64Std(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

func TestStoreRefusesOtherBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	short := newFixtureWith(t, f.svc, f.objects, withUploadTTL(time.Second))
	u := testenv.NewUser(t, f.svc, "uce")
	data := randomBytes(t, 64<<10)

	tests := []struct {
		name string
		fx   fixture
		wait time.Duration
		send func(up *uploadView) (int, string)
	}{
		{"other bytes of the same length", f, 0, func(up *uploadView) (int, string) {
			return put(t, up.URL, up.Headers, randomBytes(t, len(data)))
		}},
		{"a different length", f, 0, func(up *uploadView) (int, string) {
			return put(t, up.URL, up.Headers, data[:len(data)-1])
		}},
		{"a tampered signature", f, 0, func(up *uploadView) (int, string) {
			return put(t, strings.Replace(up.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1), up.Headers, data)
		}},
		{"an expired URL", short, 2100 * time.Millisecond, func(up *uploadView) (int, string) {
			return put(t, up.URL, up.Headers, data)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := tt.fx.requestUpload(t, u, uploadBody("x.png", "image/png", data))
			time.Sleep(tt.wait)
			status, answer := tt.send(a.Upload)
			if status < 400 || status >= 500 {
				t.Errorf("PUT with %s = %d %s, want the store to refuse it", tt.name, status, answer)
			}
			resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
			var e errorAnswer
			resp.JSON(t, &e)
			if resp.Code != http.StatusConflict || e.Code != "upload_missing" {
				t.Errorf("POST /complete after a refused PUT = %d %s, want 409 upload_missing", resp.Code, resp.Body)
			}
		})
	}
}

func TestCompleteBeforeUpload(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "e2e")
	a := f.requestUpload(t, u, uploadBody("a.pdf", "application/pdf", randomBytes(t, 100)))

	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
	var e errorAnswer
	resp.JSON(t, &e)
	if resp.Code != http.StatusConflict || e.Code != "upload_missing" {
		t.Errorf("POST /complete before the upload = %d %s, want 409 upload_missing", resp.Code, resp.Body)
	}
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+a.Media.ID+"/download", u.AccessToken, nil)
	resp.JSON(t, &e)
	if resp.Code != http.StatusConflict || e.Code != "not_ready" {
		t.Errorf("GET /download of a pending media = %d %s, want 409 not_ready", resp.Code, resp.Body)
	}
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+a.Media.ID, u.AccessToken, nil)
	var m mediaView
	resp.JSON(t, &m)
	if resp.Code != http.StatusOK || m.Status != statusPending {
		t.Errorf("GET /{id} = %d %s, want 200 pending", resp.Code, resp.Body)
	}
}

func TestUploadValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	good := func() map[string]any {
		return map[string]any{"filename": "a.png", "content_type": "image/png", "size_bytes": 10, "sha256": hexSHA256(randomBytes(t, 10))}
	}
	with := func(k string, v any) map[string]any {
		b := good()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	tests := []struct {
		name      string
		body      any
		wantCode  int
		wantError string
		wantField string
	}{
		{"over 50 MiB", with("size_bytes", 50<<20+1), http.StatusRequestEntityTooLarge, "too_large", ""},
		{"zero bytes", with("size_bytes", 0), http.StatusUnprocessableEntity, "validation_error", "size_bytes"},
		{"negative size", with("size_bytes", -5), http.StatusUnprocessableEntity, "validation_error", "size_bytes"},
		{"no size", with("size_bytes", nil), http.StatusUnprocessableEntity, "validation_error", "size_bytes"},
		{"html", with("content_type", "text/html"), http.StatusUnprocessableEntity, "validation_error", "content_type"},
		{"svg", with("content_type", "image/svg+xml"), http.StatusUnprocessableEntity, "validation_error", "content_type"},
		{"octet-stream", with("content_type", "application/octet-stream"), http.StatusUnprocessableEntity, "validation_error", "content_type"},
		{"type with parameters", with("content_type", "image/png; charset=utf-8"), http.StatusUnprocessableEntity, "validation_error", "content_type"},
		{"no type", with("content_type", nil), http.StatusUnprocessableEntity, "validation_error", "content_type"},
		{"short hash", with("sha256", strings.Repeat("a", 63)), http.StatusUnprocessableEntity, "validation_error", "sha256"},
		{"non-hex hash", with("sha256", strings.Repeat("g", 64)), http.StatusUnprocessableEntity, "validation_error", "sha256"},
		{"base64 hash", with("sha256", "LPwte+qa2H3FihjylBTQ+OIGBXbTXsHzor8DH7kNhd8="), http.StatusUnprocessableEntity, "validation_error", "sha256"},
		{"no hash", with("sha256", nil), http.StatusUnprocessableEntity, "validation_error", "sha256"},
		{"no filename", with("filename", nil), http.StatusUnprocessableEntity, "validation_error", "filename"},
		{"filename with a newline", with("filename", "a\nb.png"), http.StatusUnprocessableEntity, "validation_error", "filename"},
		{"filename too long", with("filename", strings.Repeat("a", 1025)), http.StatusUnprocessableEntity, "validation_error", "filename"},
		{"entry id not a uuid", with("entry_id", "42"), http.StatusUnprocessableEntity, "validation_error", "entry_id"},
		{"unknown entry", with("entry_id", uuid.NewString()), http.StatusUnprocessableEntity, "validation_error", "entry_id"},
		{"size as a string", with("size_bytes", "10"), http.StatusUnprocessableEntity, "validation_error", "size_bytes"},
		{"unknown field", with("path", "../../etc"), http.StatusBadRequest, "unknown_field", ""},
		{"malformed json", "{", http.StatusBadRequest, "malformed_json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, tt.body)
			var e errorAnswer
			resp.JSON(t, &e)
			if resp.Code != tt.wantCode || e.Code != tt.wantError {
				t.Fatalf("POST /upload (%s) = %d %s, want %d %s", tt.name, resp.Code, resp.Body, tt.wantCode, tt.wantError)
			}
			if _, ok := e.Fields[tt.wantField]; tt.wantField != "" && !ok {
				t.Errorf("POST /upload (%s) fields = %v, want %s", tt.name, e.Fields, tt.wantField)
			}
		})
	}

	t.Run("every allowed type and exactly 50 MiB", func(t *testing.T) {
		t.Parallel()
		for _, ct := range mediarow.ContentTypes() {
			body := good()
			body["content_type"] = strings.ToUpper(ct) // media types are case-insensitive
			body["size_bytes"] = 50 << 20
			body["sha256"] = strings.ToUpper(hexSHA256(randomBytes(t, 8)))
			// Each its own user: ten 50 MiB uploads would pass one user's quota.
			v := testenv.NewUser(t, f.svc, "e2e")
			a := f.requestUpload(t, v, body)
			if a.Media.ContentType != ct {
				t.Errorf("POST /upload (%s) content_type = %q, want %q", ct, a.Media.ContentType, ct)
			}
		}
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		if resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", "", good()); resp.Code != http.StatusUnauthorized {
			t.Errorf("POST /upload without a token = %d, want 401", resp.Code)
		}
	})
}

func TestQuota(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withQuota(1000))
	u := testenv.NewUser(t, f.svc, "uce")

	first := randomBytes(t, 600)
	f.uploadReady(t, u, "first.png", "image/png", first)

	second := randomBytes(t, 300)
	pending := f.requestUpload(t, u, uploadBody("second.png", "image/png", second))

	// 600 ready + 300 pending + 101 > 1000.
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("third.png", "image/png", randomBytes(t, 101)))
	var e errorAnswer
	resp.JSON(t, &e)
	if resp.Code != http.StatusForbidden || e.Code != "quota_exceeded" {
		t.Errorf("POST /upload past the quota = %d %s, want 403 quota_exceeded", resp.Code, resp.Body)
	}
	// Exactly up to the quota is allowed.
	f.requestUpload(t, u, uploadBody("fourth.png", "image/png", randomBytes(t, 100)))

	// A deleted media frees its bytes.
	if resp := testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+pending.Media.ID, u.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d, want 204", resp.Code)
	}
	f.requestUpload(t, u, uploadBody("fifth.png", "image/png", randomBytes(t, 300)))

	// Deduplication needs no room: the bytes are already counted.
	resp = testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("again.png", "image/png", first))
	if resp.Code != http.StatusOK {
		t.Errorf("POST /upload of stored bytes at the quota = %d %s, want 200", resp.Code, resp.Body)
	}
}

func TestPendingUploadCountsAfterItsURLExpires(t *testing.T) {
	t.Parallel()
	svc := testenv.Services(t)
	objects := testObjects(t)
	// 3s, not 1s: X-Amz-Date is in whole seconds, so a 1s URL can expire before the PUT
	// on a busy machine; the wait below follows the URL's own expiry.
	short := newFixtureWith(t, svc, objects, withQuota(1000), withUploadTTL(3*time.Second))
	f := newFixtureWith(t, svc, objects, withQuota(1000))
	u := testenv.NewUser(t, svc, "e2e")

	// The bytes are in S3 before the URL expires, and stay there until the upload is
	// completed or removed: so it keeps its room in the quota after the expiry.
	late := randomBytes(t, 700)
	a := short.requestUpload(t, u, uploadBody("late.m4a", "audio/x-m4a", late))
	if status, answer := put(t, a.Upload.URL, a.Upload.Headers, late); status != http.StatusOK {
		t.Fatalf("PUT = %d %s, want 200", status, answer)
	}
	for !time.Now().After(a.Upload.ExpiresAt) {
		time.Sleep(time.Until(a.Upload.ExpiresAt) + 10*time.Millisecond)
	}
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("now.m4a", "audio/x-m4a", randomBytes(t, 301)))
	var e errorAnswer
	resp.JSON(t, &e)
	if resp.Code != http.StatusForbidden || e.Code != "quota_exceeded" {
		t.Errorf("POST /upload of 301 bytes with a 700-byte upload whose URL expired, quota 1000 = %d %s, want 403 quota_exceeded", resp.Code, resp.Body)
	}

	// An upload that was in flight at the expiry can still be completed (the janitor
	// leaves it PENDING_UPLOAD_TTL past the expiry); ready, it holds the same room.
	resp = testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
	var m mediaView
	resp.JSON(t, &m)
	if resp.Code != http.StatusOK || m.Status != statusReady {
		t.Errorf("POST /complete after the URL expired = %d %s, want 200 ready", resp.Code, resp.Body)
	}
	f.requestUpload(t, u, uploadBody("fits.m4a", "audio/x-m4a", randomBytes(t, 300)))
}

func TestDeduplication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	data := randomBytes(t, 5000)
	first := f.uploadReady(t, u, "cat.gif", "image/gif", data)

	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("cat again.gif", "image/gif", data))
	var a uploadAnswer
	resp.JSON(t, &a)
	if resp.Code != http.StatusOK || !a.Deduplicated || a.Upload != nil || a.Media.ID != first.ID || a.Media.Filename != "cat.gif" || a.Media.Status != statusReady {
		t.Errorf("POST /upload of the same bytes = %d %s, want 200 with the existing media, deduplicated and no upload", resp.Code, resp.Body)
	}
	if !strings.Contains(resp.Body.String(), `"upload":null`) {
		t.Errorf("POST /upload deduplicated body = %s, want \"upload\":null", resp.Body)
	}

	// Another user's identical bytes are not shared.
	v := testenv.NewUser(t, f.svc, "uce")
	f.requestUpload(t, v, uploadBody("cat.gif", "image/gif", data))

	// A pending media is not a duplicate: its bytes may never arrive.
	other := randomBytes(t, 10)
	f.requestUpload(t, u, uploadBody("p.gif", "image/gif", other))
	f.requestUpload(t, u, uploadBody("p.gif", "image/gif", other))

	// A deleted one is not either.
	if resp := testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+first.ID, u.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d, want 204", resp.Code)
	}
	f.requestUpload(t, u, uploadBody("cat.gif", "image/gif", data))
}

func TestAnotherUsersMediaIsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	owner := testenv.NewUser(t, f.svc, "uce")
	other := testenv.NewUser(t, f.svc, "uce")
	ready := f.uploadReady(t, owner, "mine.webp", "image/webp", randomBytes(t, 300))
	pending := f.requestUpload(t, owner, uploadBody("mine.mp4", "video/mp4", randomBytes(t, 300))).Media

	for _, id := range []string{ready.ID, pending.ID} {
		for _, call := range [][2]string{
			{http.MethodGet, "/api/v1/media/" + id},
			{http.MethodGet, "/api/v1/media/" + id + "/download"},
			{http.MethodPost, "/api/v1/media/" + id + "/complete"},
			{http.MethodDelete, "/api/v1/media/" + id},
		} {
			resp := testenv.Do(t, f.h, call[0], call[1], other.AccessToken, nil)
			var e errorAnswer
			resp.JSON(t, &e)
			if resp.Code != http.StatusNotFound || e.Code != "not_found" {
				t.Errorf("%s %s as another user = %d %s, want 404 not_found", call[0], call[1], resp.Code, resp.Body)
			}
		}
	}
	resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media", other.AccessToken, nil)
	var l listResponse
	resp.JSON(t, &l)
	if resp.Code != http.StatusOK || len(l.Items) != 0 {
		t.Errorf("GET / as another user = %d %s, want 200 and no items", resp.Code, resp.Body)
	}
	// Nothing was changed by those attempts.
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+pending.ID, owner.AccessToken, nil)
	if resp.Code != http.StatusOK {
		t.Errorf("GET /{id} as the owner after the attempts = %d, want 200", resp.Code)
	}
	// Ids that name nothing.
	for _, path := range []string{"/api/v1/media/" + uuid.NewString(), "/api/v1/media/not-a-uuid", "/api/v1/media/not-a-uuid/download"} {
		if resp := testenv.Do(t, f.h, http.MethodGet, path, owner.AccessToken, nil); resp.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.Code)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "e2e")
	var ids []string
	for i := range 5 {
		a := f.requestUpload(t, u, uploadBody(fmt.Sprintf("n%d.ogg", i), "audio/ogg", randomBytes(t, 10)))
		ids = append([]string{a.Media.ID}, ids...) // newest first
	}

	var got []string
	path := "/api/v1/media?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the list does not end")
		}
		resp := testenv.Do(t, f.h, http.MethodGet, path, u.AccessToken, nil)
		var l listResponse
		resp.JSON(t, &l)
		if resp.Code != http.StatusOK || len(l.Items) > 2 {
			t.Fatalf("GET %s = %d %s, want 200 with at most 2 items", path, resp.Code, resp.Body)
		}
		for _, m := range l.Items {
			got = append(got, m.ID)
		}
		if l.NextCursor == nil {
			break
		}
		path = "/api/v1/media/?limit=2&cursor=" + url.QueryEscape(*l.NextCursor)
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("paged list = %v, want %v", got, ids)
	}

	resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media", u.AccessToken, nil)
	var l listResponse
	resp.JSON(t, &l)
	if len(l.Items) != 5 || l.NextCursor != nil || !strings.Contains(resp.Body.String(), `"next_cursor":null`) {
		t.Errorf("GET / = %s, want 5 items and next_cursor null", resp.Body)
	}

	// limit and cursor are refused as by every list, "limit=" and "cursor=" included
	// (they were taken as the defaults).
	testenv.WantPageRefusals(t, f.h, u.AccessToken, "/api/v1/media", true)
	testenv.WantPageRefusals(t, f.h, u.AccessToken, "/api/v1/media?entry_id="+uuid.NewString(), true)
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media?entry_id=nope", u.AccessToken, nil)
	var e errorAnswer
	resp.JSON(t, &e)
	if resp.Code != http.StatusUnprocessableEntity || e.Fields["entry_id"] == "" {
		t.Errorf("GET /?entry_id=nope = %d %s, want 422 naming entry_id", resp.Code, resp.Body)
	}
}

// TestSessionWithoutKey: a uce session that holds no master key cannot seal or open
// filenames, and answers 401 session_key_unavailable, as entries does (it was a 500).
// Calls that need no filename still work.
func TestSessionWithoutKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	m := f.uploadReady(t, u, "x.png", "image/png", randomBytes(t, 10))
	keyless := testenv.KeylessAccessToken(t, f.svc, u)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/api/v1/media/upload", uploadBody("y.png", "image/png", randomBytes(t, 10))},
		{http.MethodGet, "/api/v1/media", nil},
		{http.MethodGet, "/api/v1/media/" + m.ID, nil},
		{http.MethodPost, "/api/v1/media/" + m.ID + "/complete", nil},
	} {
		resp := testenv.Do(t, f.h, c.method, c.path, keyless, c.body)
		var e errorAnswer
		resp.JSON(t, &e)
		if resp.Code != http.StatusUnauthorized || e.Code != "session_key_unavailable" {
			t.Errorf("%s %s without a session key = %d %s, want 401 session_key_unavailable", c.method, c.path, resp.Code, resp.Body)
		}
	}
	if resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+m.ID+"/download", keyless, nil); resp.Code != http.StatusOK {
		t.Errorf("GET /{id}/download without a session key = %d %s, want 200", resp.Code, resp.Body)
	}
	if resp := testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+m.ID, keyless, nil); resp.Code != http.StatusNoContent {
		t.Errorf("DELETE /{id} without a session key = %d %s, want 204", resp.Code, resp.Body)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "e2e")
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodPut, "/api/v1/media/upload", http.StatusMethodNotAllowed, "POST"}, // the literal path, not /{id}
		{http.MethodPut, "/api/v1/media/" + uuid.NewString(), http.StatusMethodNotAllowed, "DELETE, GET, HEAD"},
		{http.MethodGet, "/api/v1/media/" + uuid.NewString() + "/complete", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/api/v1/media/a/b/c", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v1/elsewhere", http.StatusNotFound, ""},
		{http.MethodGet, "/api/v1/media", http.StatusOK, ""},
		{http.MethodGet, "/api/v1/media/", http.StatusOK, ""},
	}
	for _, tt := range tests {
		resp := testenv.Do(t, f.h, tt.method, tt.path, u.AccessToken, nil)
		if resp.Code != tt.want || resp.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d Allow %q %s, want %d Allow %q", tt.method, tt.path, resp.Code, resp.Header().Get("Allow"), resp.Body, tt.want, tt.allow)
		}
	}
}

func TestStoreOutageIs503(t *testing.T) {
	t.Parallel()
	svc := testenv.Services(t)
	var cfg objstore.Config
	if err := config.Load(testenv.Env(t), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint = "http://127.0.0.1:1" // nothing listens there
	down, err := objstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, svc, down)
	u := testenv.NewUser(t, svc, "uce")
	a := f.requestUpload(t, u, uploadBody("x.heic", "image/heic", randomBytes(t, 10)))
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
	var e errorAnswer
	resp.JSON(t, &e)
	if resp.Code != http.StatusServiceUnavailable || e.Code != "service_unavailable" || resp.Header().Get("Retry-After") == "" {
		t.Errorf("POST /complete with S3 down = %d %s, want 503 with Retry-After", resp.Code, resp.Body)
	}
}

func TestLogsHoldNoFilename(t *testing.T) {
	// CaptureLogs swaps the default logger: not parallel with other log captures.
	logs := testenv.CaptureLogs(t)
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	secret := "Diagnosis letter " + uuid.NewString() + ".pdf"
	m := f.uploadReady(t, u, secret, "application/pdf", randomBytes(t, 50))
	testenv.Do(t, f.h, http.MethodGet, "/api/v1/media?limit=1", u.AccessToken, nil)
	testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+m.ID+"/download", u.AccessToken, nil)
	testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, map[string]any{"filename": secret, "content_type": "text/html", "size_bytes": 1, "sha256": "x"})
	out := logs.String()
	if !strings.Contains(out, m.ID) {
		t.Fatalf("logs = %s, want lines about media %s", out, m.ID)
	}
	for _, leak := range []string{"Diagnosis", u.AccessToken, "X-Amz-Signature"} {
		if strings.Contains(out, leak) {
			t.Errorf("logs hold %q:\n%s", leak, out)
		}
	}
}

func TestStartReadsConfig(t *testing.T) {
	t.Parallel()
	env := testenv.Env(t)
	testObjects(t) // fails the test when S3 is not configured

	missing := map[string]string{}
	for k, v := range env {
		if k != "S3_BUCKET" {
			missing[k] = v
		}
	}
	missing["S3_BUCKET"] = ""
	fn := New()
	if err := fn.Start(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "S3_BUCKET") {
		t.Errorf("Start() without S3_BUCKET = %v, want an error naming S3_BUCKET", err)
	}
	if ok, _ := fn.Ready(context.Background()); ok {
		t.Errorf("Ready() after a failed Start = true, want false")
	}
	resp := testenv.Do(t, http.HandlerFunc(fn.Handle), http.MethodGet, "/api/v1/media", "", nil)
	if resp.Code != http.StatusServiceUnavailable {
		t.Errorf("Handle() before Start = %d, want 503", resp.Code)
	}

	fresh := map[string]string{}
	for k, v := range env {
		fresh[k] = v
	}
	fresh["S3_BUCKET"] = "diary-media-start-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	fresh["S3_CREATE_BUCKET"] = "true"
	fn = New()
	if err := fn.Start(context.Background(), fresh); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { _ = fn.Stop(context.Background()) })
	if ok, err := fn.Ready(context.Background()); !ok || err != nil {
		t.Errorf("Ready() = %v, %v; want true", ok, err)
	}
	u := testenv.NewUser(t, testenv.Services(t), "e2e")
	data := randomBytes(t, 20)
	resp = testenv.Do(t, http.HandlerFunc(fn.Handle), http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("s.wav", "audio/wav", data))
	var a uploadAnswer
	resp.JSON(t, &a)
	if resp.Code != http.StatusCreated {
		t.Fatalf("POST /upload after Start = %d %s, want 201", resp.Code, resp.Body)
	}
	if status, answer := put(t, a.Upload.URL, a.Upload.Headers, data); status != http.StatusOK {
		t.Errorf("PUT into the bucket Start created = %d %s, want 200", status, answer)
	}
}
