package platform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// Service URLs nothing answers at, with a user, a password and a database name that must
// never appear in an error: readiness answers print errors as they are.
const (
	deadDatabaseURL = "postgres://canaryuser:canarypass@127.0.0.1:1/canarydb?connect_timeout=2"
	deadRedisURL    = "redis://canaryuser:canarypass@127.0.0.1:1/0"
)

var canaries = []string{"canaryuser", "canarypass", "canarydb", "127.0.0.1:1"}

// wantNamedOnly checks that text names setting and service and carries nothing of the URL.
func wantNamedOnly(t *testing.T, what, text, setting, service string) {
	t.Helper()
	if !strings.Contains(text, setting) || !strings.Contains(text, service) {
		t.Errorf("%s = %q, want it to name %s and %s", what, text, setting, service)
	}
	for _, c := range canaries {
		if strings.Contains(text, c) {
			t.Errorf("%s = %q: it shows %q from the URL", what, text, c)
		}
	}
}

// connectingFunction starts the shared services in Start, as every HTTP function does.
type connectingFunction struct{ platform.Lifecycle }

func (f *connectingFunction) Start(ctx context.Context, env map[string]string) error {
	var cfg platform.Config
	if err := config.Load(env, &cfg); err != nil {
		return err
	}
	svc, err := platform.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	f.Serve(http.NotFoundHandler(), svc, true)
	return nil
}

func TestConnectErrorsNameTheSettingOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, setting, value, service string
	}{
		{"postgres down", "DATABASE_URL", deadDatabaseURL, "postgres"},
		{"redis down", "REDIS_URL", deadRedisURL, "redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.Env(t)
			env[tt.setting] = tt.value

			var cfg platform.Config
			if err := config.Load(env, &cfg); err != nil {
				t.Fatal(err)
			}
			_, err := platform.Connect(context.Background(), cfg)
			var unreachable *config.UnreachableError
			if !errors.As(err, &unreachable) {
				t.Fatalf("Connect() = %v, want a config.UnreachableError", err)
			}
			wantNamedOnly(t, "Connect() error", err.Error(), tt.setting, tt.service)

			// What readiness answers when Start failed that way.
			h, err := host.New(&connectingFunction{Lifecycle: platform.Lifecycle{Name: "things"}})
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Start(context.Background(), env)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/readiness", nil))
			if rec.Code == http.StatusOK {
				t.Fatalf("readiness = 200 with %s down", tt.service)
			}
			wantNamedOnly(t, "readiness answer", rec.Body.String(), tt.setting, tt.service)
		})
	}
}

func TestReadyErrorsNameTheServiceOnly(t *testing.T) {
	t.Parallel()
	live := testenv.Services(t)
	deadDB, err := pgxpool.New(context.Background(), deadDatabaseURL) // connects lazily
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(deadDB.Close)
	ropts, err := redis.ParseURL(deadRedisURL)
	if err != nil {
		t.Fatal(err)
	}
	deadRedis := redis.NewClient(ropts)
	t.Cleanup(func() { _ = deadRedis.Close() })

	tests := []struct {
		name             string
		svc              *platform.Services
		setting, service string
	}{
		{"postgres down", &platform.Services{DB: deadDB, Redis: live.Redis}, "DATABASE_URL", "postgres"},
		{"redis down", &platform.Services{DB: live.DB, Redis: deadRedis}, "REDIS_URL", "redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := tt.svc.Ready(context.Background())
			if ok || err == nil {
				t.Fatalf("Ready() = %v, %v with %s down, want false and an error", ok, err, tt.service)
			}
			wantNamedOnly(t, "Ready() error", err.Error(), tt.setting, tt.service)
		})
	}
}
