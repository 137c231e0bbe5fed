package integrations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/facebook/facebooktest"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

const (
	testAppID     = "1234567890"
	testAppSecret = "app-secret-for-tests"
	testRedirect  = "https://app.example.test/facebook/callback"
)

// harness is the integrations function over the real services, a Facebook fake and a
// captured event sink.
type harness struct {
	svc    *platform.Services
	fake   *facebooktest.Fake
	sink   *testenv.EventSink
	srv    *server
	h      http.Handler
	logs   *testenv.LogBuffer
	tokKey string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	logs := testenv.CaptureLogs(t)
	svc := testenv.Services(t)
	fake := facebooktest.New(t, testAppID, testAppSecret)
	sk := testenv.NewEventSink(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Facebook: fake.Config(testRedirect), TokenKey: base64.StdEncoding.EncodeToString(key), Sink: sk.URL,
		PublicURL: "https://diary.example.test"}
	s, err := newServer(cfg, svc, nil)
	if err != nil {
		t.Fatalf("newServer() = %v", err)
	}
	s.relay.Start()
	t.Cleanup(func() { _ = s.relay.Stop(context.Background()) }) // before svc closes
	return &harness{svc: svc, fake: fake, sink: sk, srv: s, h: routes(s, nil), logs: logs, tokKey: cfg.TokenKey}
}

// delivered waits until the sink has every event the outbox holds for the users now, and
// returns what the sink received of theirs, in order.
func (h *harness) delivered(t *testing.T, userIDs ...string) []testenv.Event {
	t.Helper()
	want := map[string]bool{}
	for _, u := range userIDs {
		for _, e := range testenv.Outbox(t, h.svc.DB, u) {
			want[e.ID] = true
		}
	}
	var out []testenv.Event
	h.sink.Wait(t, func(evs []testenv.Event) bool {
		out = out[:0]
		for _, e := range evs {
			if want[e.ID] {
				out = append(out, e)
			}
		}
		return len(out) >= len(want)
	})
	return out
}

func (h *harness) do(t *testing.T, u testenv.User, method, path string, body any) testenv.Response {
	t.Helper()
	return testenv.Do(t, h.h, method, path, u.AccessToken, body)
}

func (h *harness) must(t *testing.T, u testenv.User, status int, method, path string, body any) testenv.Response {
	t.Helper()
	res := h.do(t, u, method, path, body)
	if res.Code != status {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, status)
	}
	return res
}

type errorJSON struct {
	Detail         string            `json:"detail"`
	Code           string            `json:"code"`
	Fields         map[string]string `json:"fields"`
	ExternalPostID string            `json:"external_post_id"`
}

func decode[T any](t *testing.T, res testenv.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", res.Body, err)
	}
	return v
}

func wantError(t *testing.T, res testenv.Response, status int, code string) errorJSON {
	t.Helper()
	if res.Code != status {
		t.Fatalf("status = %d %s, want %d %s", res.Code, res.Body, status, code)
	}
	e := decode[errorJSON](t, res)
	if e.Code != code {
		t.Fatalf("code = %q (%s), want %q", e.Code, res.Body, code)
	}
	return e
}

// connect runs connect and callback for u as the Facebook user fbUserID, returning the
// integration.
func (h *harness) connect(t *testing.T, u testenv.User, fbUserID string) integrationView {
	t.Helper()
	c := decode[connectResponse](t, h.must(t, u, http.StatusOK, "POST", basePath+"/facebook/connect", map[string]any{}))
	code := h.fake.Authorize(fbUserID, testRedirect)
	return decode[integrationView](t, h.must(t, u, http.StatusCreated, "POST", basePath+"/facebook/callback",
		map[string]string{"code": code, "state": c.State}))
}

// addFacebookUser registers a Facebook user with one postable Page and one it may only
// analyse.
func (h *harness) addFacebookUser(t *testing.T) *facebooktest.User {
	t.Helper()
	id := strings.ReplaceAll(uuid.NewString(), "-", "")[:15]
	u := &facebooktest.User{ID: id, Name: "Ada " + id, Pages: []facebooktest.Page{
		{ID: "page" + id, Name: "Ada's diary"},
		{ID: "ro" + id, Name: "Someone else's Page", Tasks: []string{"ANALYZE"}},
	}}
	h.fake.AddUser(u)
	return u
}

// insertEntry writes a live entry of u straight into the entries table, as the entries
// function stores it: a uce entry sealed under the master key, an e2e one as ciphertext.
func (h *harness) insertEntry(t *testing.T, u testenv.User, title *string, content string) string {
	t.Helper()
	id := uuid.NewString()
	now := time.Now().UTC()
	var titleCT, contentCT, ciphertext []byte
	if u.Tier == "uce" {
		sealed, err := entrybody.Seal(u.MasterKey, u.ID, id, 1, title, content)
		if err != nil {
			t.Fatal(err)
		}
		titleCT, contentCT = sealed.Title, sealed.Content
	} else {
		ciphertext = []byte("client-envelope")
	}
	_, err := h.svc.DB.Exec(t.Context(), `
		INSERT INTO entries (id, user_id, title_ct, content_ct, ciphertext, body_version, occurred_at, created_at, updated_at, content_bytes)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $6, $7)`,
		id, u.ID, titleCT, contentCT, ciphertext, now, len(titleCT)+len(contentCT)+len(ciphertext))
	if err != nil {
		t.Fatalf("insert entry: %v", err)
	}
	return id
}

// queryParams parses the query of a URL.
func queryParams(t *testing.T, raw string) (*url.URL, url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u, u.Query()
}
