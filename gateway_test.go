package diary

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// startGateway starts a gateway with env and stops it when the test ends.
func startGateway(t *testing.T, env map[string]string) http.Handler {
	t.Helper()
	f := New()
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
func proxiedEnv(upstream string, extra ...string) map[string]string {
	env := map[string]string{}
	for _, g := range groups {
		env[g.urlVar()] = upstream
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// withEnv returns env without any upstream URL, with the given settings.
func withEnv(env map[string]string, kv ...string) map[string]string {
	for _, g := range groups {
		delete(env, g.urlVar())
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

type errorBody struct {
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields"`
}

// wantError checks that res is an error in the API's shape with the status and code.
func wantError(t *testing.T, res testenv.Response, status int, code string) {
	t.Helper()
	if res.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", res.Code, status, res.Body)
	}
	if ct := res.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body errorBody
	res.JSON(t, &body)
	if body.Code != code || body.Detail == "" {
		t.Errorf("body = %+v, want code %q and a detail", body, code)
	}
}

func TestGroupsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g.name] || g.name == "" || strings.ContainsAny(g.name, "/ ") {
			t.Errorf("group %q: names must be unique path segments", g.name)
		}
		seen[g.name] = true
		if len(g.openAPI) == 0 {
			t.Errorf("group %s exports no OpenAPI fragment", g.name)
		}
	}
	for _, name := range []string{"auth", "entries", "media", "jobs"} {
		if !seen[name] {
			t.Errorf("groups lacks %q", name)
		}
	}
}

func TestRoutesInProcess(t *testing.T) {
	env := testenv.Env(t)
	for _, g := range groups {
		delete(env, g.urlVar())
	}
	h := startGateway(t, env)
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
		wantError(t, testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil), http.StatusUnauthorized, "not_authenticated")
	})
}

// upstreamRequest is what a fake upstream saw.
type upstreamRequest struct {
	method, path, query, host, body string
	header                          http.Header
}

func newUpstream(t *testing.T) (*httptest.Server, func() []upstreamRequest) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []upstreamRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, upstreamRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, string(body), r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"upstream":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []upstreamRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]upstreamRequest(nil), seen...)
	}
}

func TestRoutesViaProxy(t *testing.T) {
	upstream, seen := newUpstream(t)
	h := startGateway(t, proxiedEnv(upstream.URL))
	upstreamHost := strings.TrimPrefix(upstream.URL, "http://")

	for _, g := range groups {
		for _, tc := range []struct{ sent, wantPath string }{
			{g.prefix(), g.prefix()},
			{g.prefix() + "/3f1c0e5e-9a4b-4c8e-8f59-2d3f1b7a6c10/sub?limit=5&cursor=abc", g.prefix() + "/3f1c0e5e-9a4b-4c8e-8f59-2d3f1b7a6c10/sub"},
			{g.prefix() + "/x/", g.prefix() + "/x"},
		} {
			t.Run(tc.sent, func(t *testing.T) {
				before := len(seen())
				req := httptest.NewRequest(http.MethodPost, tc.sent, strings.NewReader(`{"a":1}`))
				req.RemoteAddr = "192.0.2.7:41000"
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer opaque-test-token")
				req.Header.Set("X-Request-Id", "gw-proxy-1")
				req.Header.Set("X-Forwarded-For", "203.0.113.9")
				req.Header.Set("X-Forwarded-Proto", "https")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)

				if rec.Code != http.StatusCreated || rec.Body.String() != `{"upstream":true}` || rec.Header().Get("X-Upstream") != "yes" {
					t.Fatalf("POST %s = %d %q, want the upstream's 201 answer", tc.sent, rec.Code, rec.Body)
				}
				if ids := rec.Header().Values("X-Request-Id"); len(ids) != 1 || ids[0] != "gw-proxy-1" {
					t.Errorf("answer's X-Request-Id = %q, want [gw-proxy-1]", ids)
				}
				all := seen()
				if len(all) != before+1 {
					t.Fatalf("upstream saw %d requests, want 1", len(all)-before)
				}
				got := all[len(all)-1]
				_, wantQuery, _ := strings.Cut(tc.sent, "?")
				checks := []struct{ name, got, want string }{
					{"method", got.method, http.MethodPost},
					{"path", got.path, tc.wantPath},
					{"query", got.query, wantQuery},
					{"Host", got.host, upstreamHost},
					{"body", got.body, `{"a":1}`},
					{"Authorization", got.header.Get("Authorization"), "Bearer opaque-test-token"},
					{"X-Request-Id", got.header.Get("X-Request-Id"), "gw-proxy-1"},
					// No proxy is trusted: the peer is the client, and the header it sent is
					// replaced, not appended to.
					{"X-Forwarded-For", strings.Join(got.header.Values("X-Forwarded-For"), ", "), "192.0.2.7"},
					{"X-Forwarded-Proto", got.header.Get("X-Forwarded-Proto"), "https"},
					{"X-Forwarded-Host", got.header.Get("X-Forwarded-Host"), "example.com"},
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("upstream got %s %q, want %q", c.name, c.got, c.want)
					}
				}
			})
		}
	}

	last := func(t *testing.T) upstreamRequest {
		t.Helper()
		all := seen()
		if len(all) == 0 {
			t.Fatal("the upstream saw no request")
		}
		return all[len(all)-1]
	}
	t.Run("request id assigned when missing", func(t *testing.T) {
		res := testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil)
		sent := last(t).header.Get("X-Request-Id")
		if sent == "" || res.Header().Get("X-Request-Id") != sent {
			t.Errorf("upstream got X-Request-Id %q, client got %q; want the same, non-empty", sent, res.Header().Get("X-Request-Id"))
		}
	})
	t.Run("proto from the connection when not forwarded", func(t *testing.T) {
		testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil)
		if got := last(t).header.Get("X-Forwarded-Proto"); got != "http" {
			t.Errorf("X-Forwarded-Proto = %q, want http", got)
		}
	})
}

// TestProxyReplacesForwardedFor checks the upstream sees exactly one X-Forwarded-For
// entry, the client the gateway resolved, whatever chain arrived: an incoming header is
// replaced, never appended to, so a client cannot add entries a function would read.
func TestProxyReplacesForwardedFor(t *testing.T) {
	upstream, seen := newUpstream(t)
	for _, tc := range []struct {
		name, hops, peer string
		xff              []string
		want             string
	}{
		{"untrusted peer: itself", "0", "192.0.2.7:41000", []string{"203.0.113.9, 10.0.0.5"}, "192.0.2.7"},
		{"trusted peer: the first untrusted entry from the right", "0", "10.0.0.2:41000", []string{"6.6.6.6, 198.51.100.1", "10.0.0.9"}, "198.51.100.1"},
		{"every entry trusted: the peer", "0", "10.0.0.2:41000", []string{"10.1.2.3"}, "10.0.0.2"},
		{"hops: entries left of the window ignored", "1", "10.0.0.2:41000", []string{"198.51.100.66, 10.0.0.7"}, "10.0.0.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startGateway(t, proxiedEnv(upstream.URL, "TRUSTED_PROXIES", "10.0.0.0/8", "TRUSTED_PROXY_HOPS", tc.hops))
			before := len(seen())
			req := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
			req.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			req.Header.Set("Forwarded", "for=192.0.2.60")
			h.ServeHTTP(httptest.NewRecorder(), req)
			all := seen()
			if len(all) != before+1 {
				t.Fatalf("upstream saw %d requests, want 1", len(all)-before)
			}
			got := all[len(all)-1].header
			if xff := got.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != tc.want {
				t.Errorf("upstream got X-Forwarded-For %q, want exactly [%s]", xff, tc.want)
			}
			if fwd := got.Get("Forwarded"); fwd != "" {
				t.Errorf("upstream got Forwarded %q, want none", fwd)
			}
		})
	}
}

// TestInProcessReplacesForwardedFor checks an in-process group sees X-Forwarded-For as an
// upstream one does: the resolved client alone.
func TestInProcessReplacesForwardedFor(t *testing.T) {
	clients, err := clientip.ProxyTrust{TrustedProxies: []string{"127.0.0.0/8", "10.0.0.0/8"}}.Resolver()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	h := forwardClient(clients, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("X-Forwarded-For")
	}))
	for _, tc := range []struct {
		peer, xff, want string
	}{
		{"127.0.0.1:41000", "10.9.8.1", "127.0.0.1"},
		{"127.0.0.1:41000", "203.0.113.4, 198.51.100.1", "198.51.100.1"},
		{"192.0.2.7:41000", "198.51.100.1", "192.0.2.7"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil)
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-For", tc.xff)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("in-process group got X-Forwarded-For %q from peer %s sending %q, want exactly [%s]", got, tc.peer, tc.xff, tc.want)
		}
		if req.Header.Get("X-Forwarded-For") != tc.xff {
			t.Errorf("the incoming request's header was changed in place")
		}
	}
}

// TestUpstreamTimeoutExceedsRequestBudget ties the gateway's patience to the functions':
// the default UPSTREAM_TIMEOUT and the one func.yaml deploys must exceed
// platform.RequestBudget (auth's bounded waits plus its work), or the gateway would answer
// 503 while auth still works on a login.
func TestUpstreamTimeoutExceedsRequestBudget(t *testing.T) {
	var cfg Config
	if err := config.Load(map[string]string{}, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	if cfg.UpstreamTimeout <= platform.RequestBudget {
		t.Errorf("default UPSTREAM_TIMEOUT = %v, want more than platform.RequestBudget %v", cfg.UpstreamTimeout, platform.RequestBudget)
	}
	var root struct {
		Run struct {
			Envs []struct{ Name, Value string } `json:"envs"`
		} `json:"run"`
	}
	raw, _ := json.Marshal(readYAML(t, "func.yaml"))
	decodeJSON(t, raw, &root)
	for _, e := range root.Run.Envs {
		if e.Name != "UPSTREAM_TIMEOUT" {
			continue
		}
		d, err := time.ParseDuration(e.Value)
		if err != nil || d <= platform.RequestBudget {
			t.Errorf("func.yaml: UPSTREAM_TIMEOUT = %q, want a duration above platform.RequestBudget %v", e.Value, platform.RequestBudget)
		}
	}
}

// deadURL returns the URL of a port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestProxyUpstreamDown(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)

	for name, upstream := range map[string]string{"refused": deadURL(t), "too slow": slow.URL} {
		t.Run(name, func(t *testing.T) {
			h := startGateway(t, proxiedEnv(upstream, "UPSTREAM_TIMEOUT", "200ms"))
			res := testenv.Do(t, h, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "a@example.test"})
			wantError(t, res, http.StatusServiceUnavailable, "service_unavailable")
			if got := res.Header().Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After = %q, want 5", got)
			}
			metrics := testenv.Do(t, h, http.MethodGet, "/metrics", "", nil).Body.String()
			if !strings.Contains(metrics, `diary_upstream_errors_total{group="auth"} 1`) {
				t.Errorf("/metrics lacks diary_upstream_errors_total{group=\"auth\"} 1")
			}
		})
	}
}

func TestStartRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"upstream not http", proxiedEnv("ftp://auth.example"), "_URL: must be an absolute http"},
		{"upstream relative", proxiedEnv("auth.diary.svc"), "_URL: must be an absolute http"},
		{"bad timeout", proxiedEnv("http://auth.example", "UPSTREAM_TIMEOUT", "soon"), "UPSTREAM_TIMEOUT"},
		{"bad trusted proxies", proxiedEnv("http://auth.example", "TRUSTED_PROXIES", "ingress.local"), "TRUSTED_PROXIES"},
		{"bad proxy hops", proxiedEnv("http://auth.example", "TRUSTED_PROXY_HOPS", "-2"), "TRUSTED_PROXY_HOPS"},
		{"in-process with a bad database", withEnv(testenv.Env(t), "DATABASE_URL", "postgres://diary@127.0.0.1:1/none?connect_timeout=2"), "DATABASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			err := f.Start(context.Background(), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start() = %v, want an error naming %q", err, tc.want)
			}
			if ready, _ := f.Ready(context.Background()); ready {
				t.Errorf("Ready() = true after a failed Start")
			}
			res := testenv.Do(t, http.HandlerFunc(f.Handle), http.MethodGet, "/health", "", nil)
			wantError(t, res, http.StatusServiceUnavailable, "service_unavailable")
		})
	}
}

func TestGatewayRoutes(t *testing.T) {
	upstream, _ := newUpstream(t)
	h := startGateway(t, proxiedEnv(upstream.URL))
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/api/v1/nope", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/api/v1/authx/login", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/api/v1", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/api/v2/auth/me", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/health", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodDelete, "/api/v1/openapi.json", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			wantError(t, testenv.Do(t, h, tc.method, tc.path, "", nil), tc.status, tc.code)
		})
	}
	for _, path := range []string{"/health", "/health/"} {
		t.Run("GET "+path, func(t *testing.T) {
			res := testenv.Do(t, h, http.MethodGet, path, "", nil)
			if res.Code != http.StatusOK || strings.TrimSpace(res.Body.String()) != `{"status":"ok"}` {
				t.Errorf("GET %s = %d %q, want 200 {\"status\":\"ok\"}", path, res.Code, res.Body)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	upstream, _ := newUpstream(t)
	h := startGateway(t, proxiedEnv(upstream.URL))
	const id = "0b6d2c1e-5f7a-4e3b-9c8d-1a2b3c4d5e6f"
	testenv.Do(t, h, http.MethodGet, "/health", "", nil)
	testenv.Do(t, h, http.MethodGet, "/api/v1/nope/"+id, "", nil)
	for _, g := range groups {
		testenv.Do(t, h, http.MethodGet, g.prefix()+"/"+id+"/no-such-route", "", nil)
	}
	testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil)

	res := testenv.Do(t, h, http.MethodGet, "/metrics", "", nil)
	if res.Code != http.StatusOK || !strings.HasPrefix(res.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q, want 200 text/plain", res.Code, res.Header().Get("Content-Type"))
	}
	body := res.Body.String()
	for _, want := range []string{
		`diary_http_requests_total{group="gateway",method="GET",route="/health",status="200"} 1`,
		`diary_http_requests_total{group="gateway",method="GET",route="unmatched",status="404"} 1`,
		`diary_http_requests_total{group="auth",method="GET",route="/api/v1/auth/me",status="201"} 1`,
		`diary_http_requests_total{group="auth",method="GET",route="unmatched",status="201"} 1`,
		`diary_http_request_duration_seconds_bucket{group="auth",method="GET",route="/api/v1/auth/me",status="201",le="+Inf"} 1`,
		`diary_http_request_duration_seconds_count{group="gateway",method="GET",route="/health",status="200"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Errorf("/metrics holds a raw id from a path; labels must be route templates")
	}
}

func TestMetricsLabelRouteTemplates(t *testing.T) {
	doc := openAPIDocument(t)
	upstream, _ := newUpstream(t)
	h := startGateway(t, proxiedEnv(upstream.URL))
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	for path, item := range doc.Paths {
		if !strings.Contains(path, "{") {
			continue
		}
		for method := range item {
			if method == "parameters" || !isMethod(method) {
				continue
			}
			testenv.Do(t, h, strings.ToUpper(method), fillPath(path, id), "", nil)
			body := testenv.Do(t, h, http.MethodGet, "/metrics", "", nil).Body.String()
			want := `method="` + strings.ToUpper(method) + `",route="` + path + `"`
			if !strings.Contains(body, want) {
				t.Errorf("%s %s: /metrics lacks a series with %s", strings.ToUpper(method), path, want)
			}
		}
	}
}

func isMethod(key string) bool {
	for _, m := range httpMethods {
		if key == m {
			return true
		}
	}
	return false
}

// fillPath replaces every {param} of an OpenAPI path template with value.
func fillPath(template, value string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(template, '{')
		if i < 0 {
			b.WriteString(template)
			return b.String()
		}
		j := strings.IndexByte(template[i:], '}')
		b.WriteString(template[:i])
		b.WriteString(value)
		template = template[i+j+1:]
	}
}

// decodeJSON is json.Unmarshal that fails the test.
func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
}
