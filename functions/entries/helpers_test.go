package entries

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// harness is the entries function over the test services.
type harness struct {
	svc *platform.Services
	fn  *Function
	h   http.Handler
}

// newHarness builds the function after the caller set up log capture, if any, so the
// function logs where the test reads. sink is K_SINK ("": the relay sends nothing and the
// events stay in the outbox).
func newHarness(t *testing.T, sink string) *harness {
	t.Helper()
	return newHarnessConfig(t, Config{Sink: sink})
}

// newHarnessConfig is newHarness with the function's whole configuration.
func newHarnessConfig(t *testing.T, cfg Config) *harness {
	t.Helper()
	svc := testenv.Services(t)
	fn, err := NewWithServices(cfg, svc, nil)
	if err != nil {
		t.Fatalf("NewWithServices() = %v", err)
	}
	// Stop the relay before the services close (cleanups run last-in first-out).
	t.Cleanup(func() { _ = fn.Stop(context.Background()) })
	return &harness{svc: svc, fn: fn, h: http.HandlerFunc(fn.Handle)}
}

func (h *harness) do(t *testing.T, u testenv.User, method, path string, body any, headers ...string) testenv.Response {
	t.Helper()
	return testenv.Do(t, h.h, method, path, u.AccessToken, body, headers...)
}

// entryJSON is an entry as either tier sees it.
type entryJSON struct {
	ID         string   `json:"id"`
	Title      *string  `json:"title"`
	Content    *string  `json:"content"`
	Ciphertext *string  `json:"ciphertext"`
	Mood       *string  `json:"mood"`
	Tags       []string `json:"tags"`
	Source     string   `json:"source"`
	OccurredAt string   `json:"occurred_at"`
	CreatedAt  string   `json:"created_at"`
	UpdatedAt  string   `json:"updated_at"`
	DeletedAt  *string  `json:"deleted_at"`
	Version    int      `json:"version"`
}

type pageJSON struct {
	Items      []entryJSON `json:"items"`
	NextCursor *string     `json:"next_cursor"`
	SyncCursor *string     `json:"sync_cursor"`
}

// ids is the ids of the page's entries, in order.
func (p pageJSON) ids() []string {
	var ids []string
	for _, e := range p.Items {
		ids = append(ids, e.ID)
	}
	return ids
}

type errorJSON struct {
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields"`
}

func randomB64(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// body returns a valid create/update body for the user's tier with the given text (uce) or
// a random envelope (e2e), plus extra fields.
func body(t *testing.T, u testenv.User, text string, extra map[string]any) map[string]any {
	t.Helper()
	b := map[string]any{}
	if u.Tier == "uce" {
		b["content"] = text
	} else {
		b["ciphertext"] = randomB64(t, 64)
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// create makes an entry and fails the test unless the answer is 201.
func (h *harness) create(t *testing.T, u testenv.User, b map[string]any, headers ...string) entryJSON {
	t.Helper()
	res := h.do(t, u, "POST", "/api/v1/entries", b, headers...)
	if res.Code != http.StatusCreated {
		t.Fatalf("POST /api/v1/entries = %d %s, want 201", res.Code, res.Body)
	}
	var e entryJSON
	res.JSON(t, &e)
	return e
}

func (h *harness) mustStatus(t *testing.T, u testenv.User, want int, method, path string, b any, headers ...string) testenv.Response {
	t.Helper()
	res := h.do(t, u, method, path, b, headers...)
	if res.Code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, want)
	}
	return res
}

func entryPath(id string) string { return "/api/v1/entries/" + id }

func quoted(v int) string { return `"` + strconv.Itoa(v) + `"` }

// userWithSession opens an extra session for an existing user holding masterKey (nil for
// none) and returns the user with that session's access token.
func userWithSession(t *testing.T, svc *platform.Services, u testenv.User, masterKey []byte) testenv.User {
	t.Helper()
	sess, _, err := svc.Sessions.Create(context.Background(), u.ID, u.Tier, masterKey)
	if err != nil {
		t.Fatalf("Sessions.Create() = %v", err)
	}
	tok, _, err := testenv.Issuer(t).Issue(u.ID, sess.ID, u.Tier)
	if err != nil {
		t.Fatalf("Issue() = %v", err)
	}
	u.SessionID, u.AccessToken, u.MasterKey = sess.ID, tok, masterKey
	return u
}

func decodeJSON[T any](t *testing.T, res testenv.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", res.Body.String(), err)
	}
	return v
}
