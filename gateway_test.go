package diary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// startGateway starts a gateway with env and stops it when the test ends.

func startGateway(t *testing.T, env map[string]string) *Function {
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
	return f
}

// proxiedEnv points every group at upstream and the metrics at a free loopback port.
func proxiedEnv(upstream string, extra ...string) map[string]string {
	env := map[string]string{"METRICS_ADDRESS": "127.0.0.1:0"}
	for _, g := range groups {
		env[g.urlVar()] = upstream
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// scrape returns what the gateway's metrics listener answers for GET /metrics.
func scrape(t *testing.T, f *Function) string {
	t.Helper()
	res, err := http.Get("http://" + f.MetricsAddress() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics on the metrics listener: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics on the metrics listener = %d %q, %v; want 200 text/plain", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	return string(body)
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
	for _, name := range Groups() {
		if seen[name] || name == "" || strings.ContainsAny(name, "/ ") {
			t.Errorf("group %q: names must be unique path segments", name)
		}
		seen[name] = true
	}
	for _, name := range []string{"auth", "entries", "media", "jobs"} {
		if !seen[name] {
			t.Errorf("Groups() lacks %q", name)
		}
	}
}

// TestGroupWithSeveralSegments: a group that lists path segments (archive) serves each of
// them and everything under them, and nothing that merely starts alike or is its name.
func TestGroupWithSeveralSegments(t *testing.T) {
	var archive group
	for _, g := range groups {
		if g.name == "archive" {
			archive = g
		}
	}
	if archive.urlVar() != "ARCHIVE_URL" {
		t.Fatalf("archive group %+v: urlVar() = %q, want ARCHIVE_URL", archive, archive.urlVar())
	}
	for path, want := range map[string]bool{
		"/api/v1/export":          true,
		"/api/v1/export/x":        true,
		"/api/v1/imports":         true,
		"/api/v1/imports/1/start": true,
		"/api/v1/exports":         false,
		"/api/v1/importsx/1":      false,
		"/api/v1/archive":         false,
		"/api/v1/entries/1":       false,
	} {
		if got := archive.owns(path); got != want {
			t.Errorf("archive.owns(%q) = %v, want %v", path, got, want)
		}
	}
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
	testenv.NotTheAPI(t) // stub upstreams and in-process fakes answer, not the API
	upstream, seen := newUpstream(t)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)
	upstreamHost := strings.TrimPrefix(upstream.URL, "http://")

	var prefixes []string
	for _, g := range groups {
		prefixes = append(prefixes, g.prefixes()...)
	}
	for _, prefix := range prefixes {
		for _, tc := range []struct{ sent, wantPath string }{
			{prefix, prefix},
			{prefix + "/3f1c0e5e-9a4b-4c8e-8f59-2d3f1b7a6c10/sub?limit=5&cursor=abc", prefix + "/3f1c0e5e-9a4b-4c8e-8f59-2d3f1b7a6c10/sub"},
			{prefix + "/x/", prefix + "/x"},
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
			h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL, "TRUSTED_PROXIES", "10.0.0.0/8", "TRUSTED_PROXY_HOPS", tc.hops)).Handle)
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
	// func.yaml's run.envs entry, read as text: the gateway module links no YAML parser.
	raw, err := os.ReadFile("func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*- name: UPSTREAM_TIMEOUT\n\s*value: "?([^"\s]+)"?`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("func.yaml sets no UPSTREAM_TIMEOUT")
	}
	if d, err := time.ParseDuration(string(m[1])); err != nil || d <= platform.RequestBudget {
		t.Errorf("func.yaml: UPSTREAM_TIMEOUT = %q, want a duration above platform.RequestBudget %v", m[1], platform.RequestBudget)
	}
}

// deadURL returns the URL of a port nothing listens on: port 1, as elsewhere in the tests.
// A port freed by closing a listener can be taken by another process before it is dialled.
func deadURL(t *testing.T) string {
	t.Helper()
	return "http://127.0.0.1:1"
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
			f := startGateway(t, proxiedEnv(upstream, "UPSTREAM_TIMEOUT", "200ms"))
			res := testenv.Do(t, http.HandlerFunc(f.Handle), http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "a@example.test"})
			wantError(t, res, http.StatusServiceUnavailable, "service_unavailable")
			if got := res.Header().Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After = %q, want 5", got)
			}
			metrics := scrape(t, f)
			if !strings.Contains(metrics, `diary_upstream_errors_total{group="auth"} 1`) {
				t.Errorf("/metrics lacks diary_upstream_errors_total{group=\"auth\"} 1")
			}
		})
	}
}

func TestStartRejectsBadSettings(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	noAuth := proxiedEnv("http://upstream.example")
	delete(noAuth, "AUTH_URL")
	for _, tc := range []struct {
		name string
		f    *Function
		env  map[string]string
		want string
	}{
		{"upstream not http", New(), proxiedEnv("ftp://auth.example"), "_URL: must be an absolute http"},
		{"upstream relative", New(), proxiedEnv("auth.diary.svc"), "_URL: must be an absolute http"},
		{"bad timeout", New(), proxiedEnv("http://auth.example", "UPSTREAM_TIMEOUT", "soon"), "UPSTREAM_TIMEOUT"},
		{"a group without upstream", New(), noAuth, "AUTH_URL is required"},
		{"an unknown in-process group", NewInProcess(map[string]HTTPFunction{"nope": &fakeGroup{}}), proxiedEnv("http://upstream.example"), "no group nope"},
		{"metrics port taken", New(), proxiedEnv("http://upstream.example", "METRICS_ADDRESS", taken.Addr().String()), "METRICS_ADDRESS"},
		{"bad trusted proxies", New(), proxiedEnv("http://auth.example", "TRUSTED_PROXIES", "ingress.local"), "TRUSTED_PROXIES"},
		{"bad proxy hops", New(), proxiedEnv("http://auth.example", "TRUSTED_PROXY_HOPS", "-2"), "TRUSTED_PROXY_HOPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
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
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)
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
	testenv.NotTheAPI(t) // stub upstreams and in-process fakes answer, not the API
	upstream, _ := newUpstream(t)
	f := startGateway(t, proxiedEnv(upstream.URL))
	h := http.HandlerFunc(f.Handle)
	const id = "0b6d2c1e-5f7a-4e3b-9c8d-1a2b3c4d5e6f"
	testenv.Do(t, h, http.MethodGet, "/health", "", nil)
	testenv.Do(t, h, http.MethodGet, "/api/v1/nope/"+id, "", nil)
	for _, g := range groups {
		for _, p := range g.prefixes() {
			testenv.Do(t, h, http.MethodGet, p+"/"+id+"/no-such-route", "", nil)
		}
	}
	testenv.Do(t, h, http.MethodGet, "/api/v1/auth/me", "", nil)

	body := scrape(t, f)
	for _, want := range []string{
		`diary_http_requests_total{group="gateway",method="GET",route="/health",status="200"} 1`,
		`diary_http_requests_total{group="gateway",method="GET",route="unmatched",status="404"} 1`,
		`diary_http_requests_total{group="auth",method="GET",route="/api/v1/auth/me",status="201"} 1`,
		`diary_http_requests_total{group="auth",method="GET",route="unmatched",status="201"} 1`,
		`diary_http_request_duration_seconds_bucket{group="auth",method="GET",route="/api/v1/auth/me",status="201",le="+Inf"} 1`,
		`diary_http_request_duration_seconds_count{group="gateway",method="GET",route="/health",status="200"} 1`,
		"go_goroutines ",
		// The shared registry (shared/metrics) is served beside the gateway's own.
		`diary_function_started_timestamp_seconds{function="diary"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Errorf("/metrics holds a raw id from a path; labels must be route templates")
	}
}

func TestMetricsNotOnPublicHost(t *testing.T) {
	upstream, _ := newUpstream(t)
	f := startGateway(t, proxiedEnv(upstream.URL))
	h := http.HandlerFunc(f.Handle)
	for _, path := range []string{"/metrics", "/metrics/", "/api/v1/metrics"} {
		wantError(t, testenv.Do(t, h, http.MethodGet, path, "", nil), http.StatusNotFound, "not_found")
	}
	if body := scrape(t, f); !strings.Contains(body, "diary_http_requests_total") {
		t.Errorf("the metrics listener's /metrics lacks diary_http_requests_total")
	}
	// The metrics listener serves nothing else: the API is not reachable through it.
	res, err := http.Get("http://" + f.MetricsAddress() + "/api/v1/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v1/auth/me on the metrics listener = %d, want 404", res.StatusCode)
	}
}

// TestNoStoreViaProxy: a proxied answer reaches the client as Cache-Control: no-store,
// once, even when the upstream said otherwise (or nothing).
func TestNoStoreViaProxy(t *testing.T) {
	testenv.NotTheAPI(t) // stub upstreams and in-process fakes answer, not the API
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/media/cacheable" {
			w.Header().Set("Cache-Control", "public, max-age=600")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"url":"https://s3.example/presigned"}`)
	}))
	t.Cleanup(upstream.Close)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)
	for _, path := range []string{"/api/v1/media/cacheable", "/api/v1/entries", "/api/v1/nope", "/health"} {
		res := testenv.Do(t, h, http.MethodGet, path, "", nil)
		if got := res.Result().Header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
			t.Errorf("GET %s: Cache-Control = %q, want [no-store]", path, got)
		}
	}
}

// deadlineRecorder is a ResponseWriter that records the write deadlines set on it, as the
// client connection under http.ResponseController would.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	mu    sync.Mutex
	write []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.write = append(d.write, t)
	return nil
}
func (d *deadlineRecorder) SetReadDeadline(time.Time) error { return nil }

// TestProxiedAnswerMovesWriteDeadline: each chunk a proxied answer brings moves the
// client's write deadline forward, so a streamed answer that its upstream keeps alive is
// not cut at the gateway's own deadline.
func TestProxiedAnswerMovesWriteDeadline(t *testing.T) {
	const chunks = 3
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		for i := range chunks {
			fmt.Fprintf(w, "chunk %d\n", i)
			http.NewResponseController(w).Flush()
		}
	}))
	t.Cleanup(upstream.Close)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)

	w := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	start := time.Now()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/entries/export", nil))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "chunk 0") {
		t.Fatalf("GET through the proxy = %d %q, want the upstream's chunks", w.Code, w.Body)
	}
	// One deadline from Observe at the start, then one more for each write of the copy.
	if len(w.write) < 2 {
		t.Fatalf("write deadlines = %v, want Observe's and at least one moved by the proxied body", w.write)
	}
	if last := w.write[len(w.write)-1]; last.Before(start.Add(httpapi.WriteTimeout)) {
		t.Errorf("last write deadline %v is before the start plus WriteTimeout", last)
	}
}

// fakeGroup is an in-process group function that records its hooks.
type fakeGroup struct {
	started map[string]string
	stopped bool
	ready   bool
}

func (g *fakeGroup) Start(_ context.Context, env map[string]string) error {
	g.started = env
	return nil
}
func (g *fakeGroup) Stop(context.Context) error { g.stopped = true; return nil }
func (g *fakeGroup) Ready(context.Context) (bool, error) {
	if !g.ready {
		return false, errors.New("fake: not ready")
	}
	return true, nil
}
func (g *fakeGroup) Handle(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusTeapot, map[string]string{"served": r.URL.Path})
}

// TestInProcessGroups: NewInProcess runs the functions it is given, without the gateway
// importing any: Start starts them with the environment, requests reach them, readiness
// follows theirs and Stop stops them; a group whose URL is set is still proxied.
func TestInProcessGroups(t *testing.T) {
	testenv.NotTheAPI(t) // stub upstreams and in-process fakes answer, not the API
	upstream, seen := newUpstream(t)
	fakes := map[string]*fakeGroup{}
	fns := map[string]HTTPFunction{}
	for _, name := range Groups() {
		fakes[name] = &fakeGroup{ready: true}
		fns[name] = fakes[name]
	}
	env := map[string]string{"METRICS_ADDRESS": "127.0.0.1:0", "JOBS_URL": upstream.URL, "SOME_SETTING": "x"}
	f := NewInProcess(fns)
	if err := f.Start(context.Background(), env); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	h := http.HandlerFunc(f.Handle)

	res := testenv.Do(t, h, http.MethodGet, "/api/v1/entries/x/", "", nil)
	if res.Code != http.StatusTeapot || !strings.Contains(res.Body.String(), `"/api/v1/entries/x"`) {
		t.Errorf("GET /api/v1/entries/x/ = %d %s, want the in-process function's 418", res.Code, res.Body)
	}
	if fakes["entries"].started["SOME_SETTING"] != "x" {
		t.Errorf("the entries function was started with %v, want the gateway's environment", fakes["entries"].started)
	}
	if res := testenv.Do(t, h, http.MethodGet, "/api/v1/jobs/1", "", nil); res.Code != http.StatusCreated || len(seen()) != 1 {
		t.Errorf("GET /api/v1/jobs/1 = %d with %d upstream requests, want the upstream's 201", res.Code, len(seen()))
	}
	if fakes["jobs"].started != nil {
		t.Errorf("the jobs function was started although JOBS_URL is set")
	}

	if ok, err := f.Ready(context.Background()); !ok || err != nil {
		t.Errorf("Ready() = %v, %v, want true", ok, err)
	}
	fakes["media"].ready = false
	if ok, err := f.Ready(context.Background()); ok || err == nil || !strings.Contains(err.Error(), "media") {
		t.Errorf("Ready() with media not ready = %v, %v, want false naming media", ok, err)
	}
	if err := f.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	for name, g := range fakes {
		if g.stopped != (name != "jobs") {
			t.Errorf("%s stopped = %v after Stop, want %v", name, g.stopped, name != "jobs")
		}
	}
}

// TestMetricsLabelRouteTemplates: every documented path with parameters is counted under
// its template, never its raw path.
func TestMetricsLabelRouteTemplates(t *testing.T) {
	testenv.NotTheAPI(t) // stub upstreams and in-process fakes answer, not the API
	var doc document
	decodeJSON(t, servedOpenAPI, &doc)
	upstream, _ := newUpstream(t)
	f := startGateway(t, proxiedEnv(upstream.URL))
	h := http.HandlerFunc(f.Handle)
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	param := regexp.MustCompile(`\{[^}]*\}`)
	for _, rt := range doc.routes() {
		if !strings.Contains(rt.path, "{") {
			continue
		}
		testenv.Do(t, h, rt.method, param.ReplaceAllString(rt.path, id), "", nil)
		want := `method="` + rt.method + `",route="` + rt.path + `"`
		if body := scrape(t, f); !strings.Contains(body, want) {
			t.Errorf("%s %s: /metrics lacks a series with %s", rt.method, rt.path, want)
		}
	}
}

// TestGatewayRequiresNoFunction: the public gateway's module requires no function module
// (nor eventing): it links no code that holds secrets, and cmd/diary is what runs the
// functions in-process.
func TestGatewayRequiresNoFunction(t *testing.T) {
	raw, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && strings.HasPrefix(fields[0], "github.com/xmojo/diary/") && fields[0] != "github.com/xmojo/diary/shared" {
			t.Errorf("go.mod requires %s: the gateway may require github.com/xmojo/diary/shared only", fields[0])
		}
	}
}

// TestProxyBodyOverLargest: a body over httpapi.LargestBodyBytes gets a 413 in the error
// shape from the gateway, whether it declares its length (refused before the proxy) or
// not (cut off as the proxy reads it), never a 503 blaming the upstream.
func TestProxyBodyOverLargest(t *testing.T) {
	upstream, seen := newUpstream(t)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL)).Handle)
	big := strings.Repeat("a", httpapi.LargestBodyBytes+1)
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("declared=%v", declared), func(t *testing.T) {
			var body io.Reader = strings.NewReader(big)
			if !declared {
				body = io.MultiReader(body) // no length: ContentLength -1
			}
			req := httptest.NewRequest(http.MethodPost, "/api/v1/entries", body)
			if !declared {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			wantError(t, testenv.Response{ResponseRecorder: rec}, http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
	for _, r := range seen() {
		if len(r.body) > httpapi.LargestBodyBytes {
			t.Errorf("the upstream got a body of %d bytes, over the bound", len(r.body))
		}
	}
}
