package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/testenv"
)

// urlVar names the setting that points a group at an upstream.
func urlVar(group string) string { return strings.ToUpper(group) + "_URL" }

// startGateway starts f with env and stops it when the test ends.
func startGateway(t *testing.T, f *diary.Function, env map[string]string) http.Handler {
	t.Helper()
	if err := f.Start(context.Background(), env); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		if err := f.Stop(context.Background()); err != nil {
			t.Errorf("Stop() = %v", err)
		}
	})
	return http.HandlerFunc(f.Handle)
}

// proxiedEnv points every group at upstream, so nothing runs in-process.
func proxiedEnv(upstream string) map[string]string {
	env := map[string]string{"METRICS_ADDRESS": "127.0.0.1:0"}
	for _, name := range diary.Groups() {
		env[urlVar(name)] = upstream
	}
	return env
}

// inProcessEnv is the test services' environment with no upstream URL, as cmd/diary runs.
func inProcessEnv(t *testing.T) map[string]string {
	env := testenv.Env(t)
	for _, name := range diary.Groups() {
		delete(env, urlVar(name))
	}
	env["METRICS_ADDRESS"] = "127.0.0.1:0"
	return env
}

// fromOwnAddresses gives each request to h a client address of its own, so a test that
// sends many never eats into a rate limit that counts by address (auth counts an IPv6
// client by its /64), its own or another package's running at the same time against the
// same Redis: each call draws a random unique-local /48 (40 random bits) and numbers the
// /64s in it.
func fromOwnAddresses(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = fmt.Sprintf("[fd%02x:%02x%02x:%02x%02x:%x::1]:40000", b[0], b[1], b[2], b[3], b[4], uint16(n.Add(1)))
		h.ServeHTTP(w, r)
	})
}

// wantNoStore checks that an answer may not be cached.
func wantNoStore(t *testing.T, res testenv.Response) {
	t.Helper()
	if got := res.Result().Header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Errorf("Cache-Control = %q, want [no-store]", got)
	}
}

// TestGroupTable: the runner has a function and a fragment for every group the gateway
// routes, and no other.
func TestGroupTable(t *testing.T) {
	var names []string
	for name, g := range groupTable {
		names = append(names, name)
		if g.newFunction() == nil || len(g.openAPI) == 0 {
			t.Errorf("group %s: no function or no OpenAPI fragment", name)
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(diary.Groups()))
	if !slices.Equal(names, want) {
		t.Errorf("groupTable has %v, want the gateway's groups %v", names, want)
	}
}

func TestRoutesInProcess(t *testing.T) {
	h := startGateway(t, diary.NewInProcess(groupFunctions()), inProcessEnv(t))
	user := testenv.NewUser(t, testenv.Services(t), "uce")

	for _, path := range []string{"/api/v1/auth/me", "/api/v1/auth/me/"} {
		t.Run(path, func(t *testing.T) {
			res := testenv.Do(t, h, http.MethodGet, path, user.AccessToken, nil, "X-Request-Id", "gw-inprocess-1")
			if res.Code != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", path, res.Code, res.Body)
			}
			var me struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			}
			res.JSON(t, &me)
			if me.ID != user.ID || me.Email != user.Email {
				t.Errorf("GET %s = %+v, want id %s email %s", path, me, user.ID, user.Email)
			}
			if ids := res.Header().Values("X-Request-Id"); len(ids) != 1 || ids[0] != "gw-inprocess-1" {
				t.Errorf("X-Request-Id = %q, want [gw-inprocess-1]", ids)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		if res := testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil); res.Code != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/auth/me without a token = %d, want 401", res.Code)
		}
	})
}

// TestInProcessStartNamesBadDatabase: a group that cannot start in-process fails the
// gateway's Start with the setting at fault, and the gateway answers 503 meanwhile.
func TestInProcessStartNamesBadDatabase(t *testing.T) {
	env := inProcessEnv(t)
	env["DATABASE_URL"] = "postgres://diary@127.0.0.1:1/none?connect_timeout=2"
	f := diary.NewInProcess(groupFunctions())
	err := f.Start(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Start() = %v, want an error naming DATABASE_URL without its value", err)
	}
	if ready, _ := f.Ready(context.Background()); ready {
		t.Errorf("Ready() = true after a failed Start")
	}
	if res := testenv.Do(t, http.HandlerFunc(f.Handle), http.MethodGet, "/health", "", nil); res.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /health after a failed Start = %d, want 503", res.Code)
	}
}

// TestNoStoreAcrossGroups: the answers that carry tokens, recovery codes, entries and
// presigned media URLs, from every group, may not be cached; errors neither.
func TestNoStoreAcrossGroups(t *testing.T) {
	h := startGateway(t, diary.NewInProcess(groupFunctions()), inProcessEnv(t))
	email := "nostore-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "@example.test"
	const password = "correct horse battery staple"

	signup := testenv.Do(t, h, http.MethodPost, "/api/v1/auth/signup", "",
		map[string]string{"email": email, "password": password, "encryption_tier": "uce"})
	if signup.Code != http.StatusCreated {
		t.Fatalf("signup = %d %s", signup.Code, signup.Body)
	}
	var tokens struct {
		AccessToken   string   `json:"access_token"`
		RecoveryCodes []string `json:"recovery_codes"`
	}
	signup.JSON(t, &tokens)
	login := testenv.Do(t, h, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	entry := testenv.Do(t, h, http.MethodPost, "/api/v1/entries", tokens.AccessToken, map[string]string{"content": "a secret day"})
	var created struct {
		ID string `json:"id"`
	}
	entry.JSON(t, &created)
	upload := testenv.Do(t, h, http.MethodPost, "/api/v1/media/upload", tokens.AccessToken, map[string]any{
		"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 3,
		"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	})

	for _, c := range []struct {
		name string
		res  testenv.Response
		want int
	}{
		{"signup (tokens, recovery codes)", signup, http.StatusCreated},
		{"login (tokens)", login, http.StatusOK},
		{"create entry", entry, http.StatusCreated},
		{"get entry", testenv.Do(t, h, http.MethodGet, "/api/v1/entries/"+created.ID, tokens.AccessToken, nil), http.StatusOK},
		{"list entries", testenv.Do(t, h, http.MethodGet, "/api/v1/entries", tokens.AccessToken, nil), http.StatusOK},
		{"media upload (presigned URL)", upload, http.StatusCreated},
		{"media list", testenv.Do(t, h, http.MethodGet, "/api/v1/media", tokens.AccessToken, nil), http.StatusOK},
		{"job of another (error)", testenv.Do(t, h, http.MethodGet, "/api/v1/jobs/5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f", tokens.AccessToken, nil), http.StatusNotFound},
		{"wrong password (error)", testenv.Do(t, h, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": "wrong password!"}), http.StatusUnauthorized},
		{"gateway 404", testenv.Do(t, h, http.MethodGet, "/api/v1/nope", "", nil), http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.res.Code != c.want {
				t.Fatalf("status = %d %s, want %d", c.res.Code, c.res.Body, c.want)
			}
			wantNoStore(t, c.res)
		})
	}
}

// TestServerTimeouts: the server cmd/diary listens with has read, write and idle timeouts
// (the project's, httpapi.NewServer, where their sizing is tested).
func TestServerTimeouts(t *testing.T) {
	limits, err := httpapi.LoadServerLimits(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WantProjectTimeouts(t, newServer("127.0.0.1:0", http.NotFoundHandler(), limits))
}

// brokerHandlers is given, plus, for every other in-process subscriber of the Triggers
// (subscribers()), a handler that acknowledges and does nothing: the local Broker needs a
// route for each Trigger, and a test names only the consumers it runs.
func brokerHandlers(given map[string]http.Handler) map[string]http.Handler {
	handlers := maps.Clone(given)
	for name := range subscribers() {
		if handlers[name] == nil {
			handlers[name] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
			})
		}
	}
	return handlers
}

// ingress stands before a local Broker's ingress and records every event sent to it
// (headers and body, for the privacy checks), so a test can wait until the outbox relay,
// which sends after the commit in the background, has handed an event to the Broker;
// only then does Drain wait for its delivery.
type ingress struct {
	next http.Handler
	mu   sync.Mutex
	cond *sync.Cond
	log  bytes.Buffer
	seen map[string]bool // type + " " + subject
}

func newIngress(next http.Handler) *ingress {
	in := &ingress{next: next, seen: map[string]bool{}}
	in.cond = sync.NewCond(&in.mu)
	return in
}

func (in *ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	in.next.ServeHTTP(rec, r)
	in.mu.Lock()
	for k, v := range r.Header {
		in.log.WriteString(k + ": " + v[0] + "\n")
	}
	in.log.Write(body)
	if rec.Code < 300 {
		in.seen[r.Header.Get("Ce-Type")+" "+r.Header.Get("Ce-Subject")] = true
		in.cond.Broadcast()
	}
	in.mu.Unlock()
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// text is everything the ingress was sent.
func (in *ingress) text() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

// waitFor returns once the Broker has accepted an event of the type about subject; the
// test fails after a minute without one.
func (in *ingress) waitFor(t *testing.T, eventType, subject string) {
	t.Helper()
	timer := time.AfterFunc(time.Minute, func() { in.cond.Broadcast() })
	defer timer.Stop()
	deadline := time.Now().Add(time.Minute)
	in.mu.Lock()
	defer in.mu.Unlock()
	for !in.seen[eventType+" "+subject] {
		if time.Now().After(deadline) {
			t.Fatalf("the Broker was not sent %s about %s", eventType, subject)
		}
		in.cond.Wait()
	}
}
