package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// connect opens services of the test's own, so the test can watch Stop close them (or
// not); they are closed again when the test ends, which is harmless.
func connect(t *testing.T) *platform.Services {
	t.Helper()
	var cfg platform.Config
	if err := config.Load(testenv.Env(t), &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	svc, err := platform.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("platform.Connect() = %v", err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func TestLifecycleNotStarted(t *testing.T) {
	t.Parallel()
	l := &platform.Lifecycle{Name: "things"}

	rec := httptest.NewRecorder()
	l.Handle(rec, httptest.NewRequest(http.MethodGet, "/api/v1/things", nil))

	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("Handle() before Serve = %d, want 503", rec.Code)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("Handle() before Serve answered 503 without Retry-After")
	}
	var body struct{ Code string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "service_unavailable" {
		t.Errorf("Handle() before Serve body = %s, want code service_unavailable", rec.Body)
	}
	if ok, err := l.Ready(context.Background()); ok || err == nil || !strings.HasPrefix(err.Error(), "things: ") {
		t.Errorf("Ready() before Serve = %v, %v, want false and an error naming things", ok, err)
	}
	if ok, err := l.Alive(context.Background()); !ok || err != nil {
		t.Errorf("Alive() before Serve = %v, %v, want true, nil", ok, err)
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Errorf("Stop() before Serve = %v, want nil", err)
	}
}

func TestLifecycleServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		owned      bool
		wantClosed bool
	}{
		{"owned services are closed by Stop", true, true},
		{"the caller's services stay open", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := connect(t)
			l := &platform.Lifecycle{Name: "things"}
			l.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte("served " + r.URL.Path))
			}), svc, tt.owned)

			rec := httptest.NewRecorder()
			l.Handle(rec, httptest.NewRequest(http.MethodGet, "/api/v1/things/1", nil))
			if rec.Code != http.StatusTeapot || rec.Body.String() != "served /api/v1/things/1" {
				t.Errorf("Handle() after Serve = %d %q, want 418 %q", rec.Code, rec.Body, "served /api/v1/things/1")
			}
			if ok, err := l.Ready(context.Background()); !ok || err != nil {
				t.Errorf("Ready() after Serve = %v, %v, want true, nil", ok, err)
			}

			if err := l.Stop(context.Background()); err != nil {
				t.Fatalf("Stop() = %v, want nil", err)
			}
			ok, err := svc.Ready(context.Background())
			if closed := !ok; closed != tt.wantClosed {
				t.Errorf("services ready after Stop = %v, %v, want closed %v", ok, err, tt.wantClosed)
			}
		})
	}
}

// TestLifecycleStopsBackground: Stop calls what Serve was given to stop, in order, before
// it closes the services, and reports their errors.
func TestLifecycleStopsBackground(t *testing.T) {
	t.Parallel()
	svc := connect(t)
	var order []string
	failed := errors.New("relay did not drain")
	l := &platform.Lifecycle{Name: "things"}
	l.Serve(http.NotFoundHandler(), svc, true,
		func(context.Context) error {
			ok, _ := svc.Ready(context.Background())
			order = append(order, fmt.Sprintf("first (services open: %v)", ok))
			return nil
		},
		func(context.Context) error { order = append(order, "second"); return failed })
	if err := l.Stop(context.Background()); !errors.Is(err, failed) {
		t.Errorf("Stop() = %v, want the second stop's error", err)
	}
	if want := "first (services open: true),second"; strings.Join(order, ",") != want {
		t.Errorf("stops ran as %q, want %q", strings.Join(order, ","), want)
	}
}
