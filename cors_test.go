package diary

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/testenv"
)

const (
	webOrigin   = "https://diary.example.test"
	otherOrigin = "http://127.0.0.1:5500"
)

// corsUpstream answers as a group function would: a 401 for /auth/me, a 429 with
// Retry-After for /auth/login, a 201 with ETag and Location (and a wildcard CORS header of
// its own, which the gateway must replace) for anything else. It counts what it serves.
func corsUpstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch r.URL.Path {
		case "/api/v1/auth/me":
			httpapi.Fail(w, r, httpapi.ErrUnauthorized)
		case "/api/v1/auth/login":
			w.Header().Set("Retry-After", "7")
			httpapi.Fail(w, r, httpapi.NewError(http.StatusTooManyRequests, "rate_limited", "slow down"))
		default:
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("ETag", `"1"`)
			w.Header().Set("Location", "/api/v1/entries/1")
			httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"id": "1"})
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

// do sends method path with the headers (name, value pairs) to h.
func do(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func varyHasOrigin(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(part) == "Origin" {
				return true
			}
		}
	}
	return false
}

// TestCORSPreflight: a preflight from an allowed origin is answered at the gateway with
// the path's methods; from any other origin, or with CORS off, it is refused without
// Access-Control-Allow-Origin; either way no group sees it.
func TestCORSPreflight(t *testing.T) {
	upstream, served := corsUpstream(t)
	on := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL, "CORS_ALLOWED_ORIGINS", webOrigin+", http://localhost:3000")).Handle)
	off := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)
	for _, tc := range []struct {
		name        string
		h           http.Handler
		path        string
		origin      string
		status      int
		wantMethods string // "" when no Access-Control-Allow-Origin may be sent
	}{
		{"allowed: collection", on, "/api/v1/entries", webOrigin, http.StatusNoContent, "GET, HEAD, POST"},
		{"allowed: item", on, "/api/v1/entries/7c9e6679-7425-40de-944b-e07fc1f90ae7", webOrigin, http.StatusNoContent, "DELETE, GET, HEAD, PUT"},
		{"allowed: trailing slash", on, "/api/v1/entries/", webOrigin, http.StatusNoContent, "GET, HEAD, POST"},
		{"allowed: a literal segment wins over a wildcard", on, "/api/v1/media/upload", webOrigin, http.StatusNoContent, "POST"},
		{"allowed: the second listed origin", on, "/api/v1/auth/login", "http://localhost:3000", http.StatusNoContent, "POST"},
		{"allowed: the gateway's own document", on, "/api/v1/openapi.json", webOrigin, http.StatusNoContent, "GET, HEAD"},
		{"allowed: no such path", on, "/api/v1/nope", webOrigin, http.StatusNotFound, ""},
		{"unknown origin", on, "/api/v1/entries", otherOrigin, http.StatusForbidden, ""},
		{"same host, other scheme", on, "/api/v1/entries", "http://diary.example.test", http.StatusForbidden, ""},
		{"same host, other port", on, "/api/v1/entries", "https://diary.example.test:8443", http.StatusForbidden, ""},
		{"a suffix of an allowed origin", on, "/api/v1/entries", "https://evil-diary.example.test", http.StatusForbidden, ""},
		{"opaque origin", on, "/api/v1/entries", "null", http.StatusForbidden, ""},
		{"CORS off", off, "/api/v1/entries", webOrigin, http.StatusForbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := served.Load()
			res := do(tc.h, http.MethodOptions, tc.path, "Origin", tc.origin,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
			if res.Code != tc.status {
				t.Fatalf("OPTIONS %s from %s = %d %s, want %d", tc.path, tc.origin, res.Code, res.Body, tc.status)
			}
			if n := served.Load() - before; n != 0 {
				t.Errorf("the preflight reached the group (%d requests); the gateway must answer it", n)
			}
			h := res.Header()
			if !varyHasOrigin(h) {
				t.Errorf("Vary = %q, want Origin in it", h.Values("Vary"))
			}
			if tc.status == http.StatusForbidden {
				wantError(t, testenv.Response{ResponseRecorder: res}, http.StatusForbidden, "origin_not_allowed")
			}
			if tc.wantMethods == "" {
				if tc.status != http.StatusNotFound {
					for name := range h {
						if strings.HasPrefix(name, "Access-Control-") {
							t.Errorf("refused preflight carries %s: %q", name, h.Get(name))
						}
					}
				}
				return
			}
			for _, c := range []struct{ name, want string }{
				{"Access-Control-Allow-Origin", tc.origin},
				{"Access-Control-Allow-Methods", tc.wantMethods},
				{"Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key"},
				{"Access-Control-Max-Age", "600"},
			} {
				if got := h.Values(c.name); len(got) != 1 || got[0] != c.want {
					t.Errorf("%s = %q, want [%s]", c.name, got, c.want)
				}
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none: clients send bearer tokens, not cookies", got)
			}
		})
	}

	t.Run("an OPTIONS without Origin is no preflight: the group answers it", func(t *testing.T) {
		before := served.Load()
		res := do(on, http.MethodOptions, "/api/v1/entries", "Access-Control-Request-Method", "POST")
		if served.Load() != before+1 || res.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("OPTIONS without Origin: group saw %d requests, Access-Control-Allow-Origin %q; want it passed on, without CORS headers",
				served.Load()-before, res.Header().Get("Access-Control-Allow-Origin"))
		}
	})
}

// TestCORSPreflightMethodsFollowTheDocument: every documented /api/v1 path's preflight
// allows exactly the methods the document lists for it (HEAD with GET), so the paths of a
// group added later are covered by the same rule.
func TestCORSPreflightMethodsFollowTheDocument(t *testing.T) {
	var doc document
	decodeJSON(t, servedOpenAPI, &doc)
	want := map[string][]string{}
	for _, rt := range doc.routes() {
		if underAPI(rt.path) {
			want[rt.path] = append(want[rt.path], rt.method)
			if rt.method == http.MethodGet {
				want[rt.path] = append(want[rt.path], http.MethodHead)
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("the served document has no /api/v1 path")
	}
	upstream, served := corsUpstream(t)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL, "CORS_ALLOWED_ORIGINS", webOrigin)).Handle)
	for path, methods := range want {
		slices.Sort(methods)
		concrete := strings.NewReplacer("{", "x", "}", "").Replace(path)
		res := do(h, http.MethodOptions, concrete, "Origin", webOrigin, "Access-Control-Request-Method", methods[0])
		if got := res.Header().Get("Access-Control-Allow-Methods"); res.Code != http.StatusNoContent || got != strings.Join(methods, ", ") {
			t.Errorf("preflight of %s (%s) = %d, Allow-Methods %q; want 204 and %q", path, concrete, res.Code, got, strings.Join(methods, ", "))
		}
	}
	if served.Load() != 0 {
		t.Errorf("%d preflights reached a group", served.Load())
	}
}

// TestCORSActualAnswers: every answer to an allowed origin, errors included, whether a
// group or the gateway itself wrote it, carries the origin, Vary: Origin and the exposed
// headers; answers to other origins, or to no origin, carry none of it.
func TestCORSActualAnswers(t *testing.T) {
	upstream, _ := corsUpstream(t)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL, "CORS_ALLOWED_ORIGINS", webOrigin)).Handle)
	down := http.HandlerFunc(startGateway(t, proxiedEnv(deadURL(t), "CORS_ALLOWED_ORIGINS", webOrigin)).Handle)
	for _, tc := range []struct {
		name         string
		h            http.Handler
		method, path string
		origin       string
		status       int
		allowed      bool
	}{
		{"created by a group", h, http.MethodPost, "/api/v1/entries", webOrigin, http.StatusCreated, true},
		{"401 from a group", h, http.MethodGet, "/api/v1/auth/me", webOrigin, http.StatusUnauthorized, true},
		{"429 from a group", h, http.MethodPost, "/api/v1/auth/login", webOrigin, http.StatusTooManyRequests, true},
		{"503 from the gateway: upstream down", down, http.MethodGet, "/api/v1/entries", webOrigin, http.StatusServiceUnavailable, true},
		{"404 from the gateway", h, http.MethodGet, "/api/v1/nope", webOrigin, http.StatusNotFound, true},
		{"the gateway's document", h, http.MethodGet, "/api/v1/openapi.json", webOrigin, http.StatusOK, true},
		{"unknown origin: served, but not readable", h, http.MethodPost, "/api/v1/entries", otherOrigin, http.StatusCreated, false},
		{"unknown origin, error", h, http.MethodGet, "/api/v1/auth/me", otherOrigin, http.StatusUnauthorized, false},
		{"no origin", h, http.MethodPost, "/api/v1/entries", "", http.StatusCreated, false},
		{"outside /api/v1", h, http.MethodGet, "/health", webOrigin, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.origin != "" {
				header = []string{"Origin", tc.origin}
			}
			res := do(tc.h, tc.method, tc.path, header...)
			if res.Code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, res.Code, res.Body, tc.status)
			}
			got := res.Result().Header
			if !tc.allowed {
				for name, v := range got {
					if strings.HasPrefix(name, "Access-Control-") {
						t.Errorf("%s = %q, want no CORS header for origin %q (a group's own included)", name, v, tc.origin)
					}
				}
				if tc.path != "/health" && !varyHasOrigin(got) {
					t.Errorf("Vary = %q, want Origin in it", got.Values("Vary"))
				}
				return
			}
			for _, c := range []struct{ name, want string }{
				{"Access-Control-Allow-Origin", tc.origin},
				{"Access-Control-Expose-Headers", "ETag, Location, Retry-After, Content-Disposition"},
			} {
				if v := got.Values(c.name); len(v) != 1 || v[0] != c.want {
					t.Errorf("%s = %q, want exactly [%s]", c.name, v, c.want)
				}
			}
			if !varyHasOrigin(got) {
				t.Errorf("Vary = %q, want Origin in it", got.Values("Vary"))
			}
			if v := got.Get("Access-Control-Allow-Credentials"); v != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q: the upstream's own CORS header passed through", v)
			}
			if tc.status == http.StatusTooManyRequests || tc.status == http.StatusServiceUnavailable {
				if got.Get("Retry-After") == "" {
					t.Errorf("%d without Retry-After", tc.status)
				}
			}
		})
	}
}

// TestCORSInProcess: in the all-in-one mode too, a preflight never reaches the group
// function, and the function's answers carry the headers.
func TestCORSInProcess(t *testing.T) {
	fns := map[string]HTTPFunction{}
	fakes := map[string]*countingGroup{}
	for _, name := range Groups() {
		fakes[name] = &countingGroup{}
		fns[name] = fakes[name]
	}
	f := NewInProcess(fns)
	if err := f.Start(context.Background(), map[string]string{"METRICS_ADDRESS": "127.0.0.1:0", "CORS_ALLOWED_ORIGINS": webOrigin}); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	h := http.HandlerFunc(f.Handle)

	res := do(h, http.MethodOptions, "/api/v1/auth/me", "Origin", webOrigin, "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization")
	if res.Code != http.StatusNoContent || fakes["auth"].served.Load() != 0 {
		t.Errorf("preflight = %d with %d requests at auth, want 204 and none", res.Code, fakes["auth"].served.Load())
	}
	res = do(h, http.MethodGet, "/api/v1/auth/me", "Origin", webOrigin)
	if res.Code != http.StatusTeapot || res.Header().Get("Access-Control-Allow-Origin") != webOrigin || !varyHasOrigin(res.Header()) {
		t.Errorf("GET = %d, Access-Control-Allow-Origin %q, Vary %q; want the function's 418 with the origin and Vary: Origin",
			res.Code, res.Header().Get("Access-Control-Allow-Origin"), res.Header().Values("Vary"))
	}
}

// countingGroup is an in-process group that counts its requests and answers 418 after
// replacing Vary, as a careless handler might.
type countingGroup struct{ served atomic.Int64 }

func (g *countingGroup) Handle(w http.ResponseWriter, r *http.Request) {
	g.served.Add(1)
	w.Header().Set("Vary", "Accept-Encoding")
	httpapi.WriteJSON(w, http.StatusTeapot, map[string]string{})
}

// TestCORSRejectsBadOrigins: CORS_ALLOWED_ORIGINS takes exact origins only; anything that
// could never equal a browser's Origin header, or a wildcard, stops Start with the name.
func TestCORSRejectsBadOrigins(t *testing.T) {
	for _, bad := range []string{
		"*", "https://*.example.test", "diary.example.test", "https://diary.example.test/",
		"https://diary.example.test/app", "https://Diary.example.test", "https://diary.example.test:443",
		"http://diary.example.test:80", "ftp://diary.example.test", "https://diary.example.test?x", "null",
		"https://user@diary.example.test", "https://diary.example.test:99999",
	} {
		t.Run(bad, func(t *testing.T) {
			err := New().Start(context.Background(), proxiedEnv("http://upstream.example", "CORS_ALLOWED_ORIGINS", "https://ok.example.test,"+bad))
			if err == nil || !strings.Contains(err.Error(), "CORS_ALLOWED_ORIGINS") {
				t.Errorf("Start(CORS_ALLOWED_ORIGINS=%q) = %v, want an error naming CORS_ALLOWED_ORIGINS", bad, err)
			}
		})
	}
	for _, good := range []string{"https://diary.example.test", "http://127.0.0.1:55567", "http://[::1]:8080", "https://diary.example.test:8443"} {
		f := New()
		if err := f.Start(context.Background(), proxiedEnv("http://upstream.example", "CORS_ALLOWED_ORIGINS", good)); err != nil {
			t.Errorf("Start(CORS_ALLOWED_ORIGINS=%q) = %v, want it accepted", good, err)
		}
		_ = f.Stop(context.Background())
	}
}
