package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/testenv"
)

type demoConfig struct {
	DatabaseURL string `envconfig:"DEMO_DATABASE_URL" required:"true"`
	Workers     int    `envconfig:"DEMO_WORKERS" default:"2"`
}

type demoFunction struct {
	cfg     demoConfig
	stopped bool
}

func (f *demoFunction) Start(_ context.Context, env map[string]string) error {
	return config.Load(env, &f.cfg)
}
func (f *demoFunction) Stop(context.Context) error { f.stopped = true; return nil }
func (f *demoFunction) Handle(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("hello"))
}

func TestReadinessNamesMissingOrBadSetting(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantReady bool
		wantText  string
	}{
		{"configured", map[string]string{"DEMO_DATABASE_URL": "postgres://x"}, true, "OK"},
		{"missing", map[string]string{}, false, "DEMO_DATABASE_URL"},
		{"bad int", map[string]string{"DEMO_DATABASE_URL": "postgres://x", "DEMO_WORKERS": "many-secret-value"}, false, "DEMO_WORKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := &demoFunction{}
			h, err := New(fn)
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Start(context.Background(), tt.env)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/readiness", nil))
			if (rec.Code == 200) != tt.wantReady || !strings.Contains(rec.Body.String(), tt.wantText) {
				t.Fatalf("readiness = %d %q, want ready=%v mentioning %q", rec.Code, rec.Body.String(), tt.wantReady, tt.wantText)
			}
			if strings.Contains(rec.Body.String(), "many-secret-value") {
				t.Errorf("readiness echoed the bad value")
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/anything", nil))
			if wantCode := map[bool]int{true: 200, false: 503}[tt.wantReady]; rec.Code != wantCode {
				t.Fatalf("request = %d, want %d", rec.Code, wantCode)
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/liveness", nil))
			if rec.Code != 200 {
				t.Fatalf("liveness = %d, want 200", rec.Code)
			}
			if err := h.Stop(context.Background()); err != nil || !fn.stopped {
				t.Fatalf("Stop() = %v, stopped=%v", err, fn.stopped)
			}
		})
	}
}

type echoEvents struct{ fail bool }

func (e echoEvents) Handle(_ context.Context, ev event.Event) (*event.Event, error) {
	if e.fail {
		return nil, context.DeadlineExceeded
	}
	return nil, nil
}

func TestCloudEventFunction(t *testing.T) {
	for _, fail := range []bool{false, true} {
		h, err := New(echoEvents{fail: fail})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"job":"cleanup"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "1")
		req.Header.Set("Ce-Type", "dev.knative.sources.ping")
		req.Header.Set("Ce-Source", "/test")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if ok := rec.Code < 300; ok == fail {
			t.Fatalf("event handled with fail=%v answered %d", fail, rec.Code)
		}
	}
}

// TestRunServerTimeouts: the server Run listens with has read, write and idle timeouts,
// the project's (httpapi.NewServer, where their sizing is tested).
func TestRunServerTimeouts(t *testing.T) {
	h, err := New(&demoFunction{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(map[string]string{"LISTEN_ADDRESS": "127.0.0.1:0"}, h)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr != "127.0.0.1:0" || srv.Handler != h {
		t.Errorf("newServer() serves %v on %q, want the host on LISTEN_ADDRESS", srv.Handler, srv.Addr)
	}
	testenv.WantProjectTimeouts(t, srv)
}

// TestRunServerLimitsFromEnv: the HTTP_* variables set the server's connection limits, and
// a bad one stops Run before it listens, naming the variable.
func TestRunServerLimitsFromEnv(t *testing.T) {
	h, err := New(&demoFunction{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(map[string]string{"LISTEN_ADDRESS": "127.0.0.1:0", "HTTP_MAX_HEADER_BYTES": "8192",
		"HTTP_READ_HEADER_TIMEOUT": "3s", "HTTP_IDLE_TIMEOUT": "45s"}, h)
	if err != nil {
		t.Fatal(err)
	}
	if srv.MaxHeaderBytes != 8192 || srv.ReadHeaderTimeout != 3*time.Second || srv.IdleTimeout != 45*time.Second {
		t.Errorf("newServer() limits = %d, %v, %v, want 8192, 3s, 45s", srv.MaxHeaderBytes, srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
	_, err = newServer(map[string]string{"HTTP_MAX_CONNECTIONS": "many"}, h)
	if err == nil || !strings.Contains(err.Error(), "HTTP_MAX_CONNECTIONS") {
		t.Errorf("newServer(HTTP_MAX_CONNECTIONS=many) = %v, want an error naming the variable", err)
	}
}
