// Package entries is the entries function: the diary itself. It serves /api/v1/entries
// (create, list, the sync feed, get, update, soft delete, restore, history), encrypts uce
// entries with the session's master key, stores e2e ciphertext verbatim, and emits an
// entry.changed event after every committed change.
package entries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the entries function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// Sink is where entry.changed events go: K_SINK, injected by a SinkBinding in the
	// cluster and by the local runner at home. Empty means events are dropped.
	Sink string `envconfig:"K_SINK"`
	// EntryRetention is how long a deleted entry can be restored; the janitor purges it
	// after the same time.
	EntryRetention time.Duration `envconfig:"ENTRY_RETENTION" default:"720h"`
	// IdempotencyKeyTTL is how long an Idempotency-Key is honoured.
	IdempotencyKeyTTL time.Duration `envconfig:"IDEMPOTENCY_KEY_TTL" default:"24h"`
}

// Function is the entries function in knative/func's shape: New, then Start, Handle,
// Ready, Alive and Stop.
type Function struct {
	// handler is set once Start has connected; until then Handle answers 503.
	handler atomic.Pointer[http.Handler]
	svc     *platform.Services
	ownsSvc bool
}

// New returns an entries function that is configured by Start.
func New() *Function {
	return &Function{}
}

// NewWithServices returns an entries function that is ready to serve with already
// connected services, for tests and the in-process gateway. Zero durations in cfg take
// their defaults; logger may be nil for slog.Default(); the caller keeps ownership of svc.
func NewWithServices(cfg Config, svc *platform.Services, logger *slog.Logger) (*Function, error) {
	f := &Function{}
	if err := f.init(cfg, svc, logger); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Function) init(cfg Config, svc *platform.Services, logger *slog.Logger) error {
	emitter, err := eventing.NewEmitter(cfg.Sink)
	if err != nil {
		return fmt.Errorf("entries: K_SINK: %w", err)
	}
	if cfg.EntryRetention <= 0 {
		cfg.EntryRetention = defaultRetention
	}
	if cfg.IdempotencyKeyTTL <= 0 {
		cfg.IdempotencyKeyTTL = defaultIdempotencyTTL
	}
	api := &api{db: svc.DB, sessions: svc.Sessions, emitter: emitter,
		retention: cfg.EntryRetention, idempotencyTTL: cfg.IdempotencyKeyTTL}
	h := routes(api, svc, logger)
	f.svc = svc
	f.handler.Store(&h)
	return nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("entries: start: %w", err)
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("entries: start: %w", err)
	}
	if err := f.init(cfg, svc, nil); err != nil {
		svc.Close()
		return fmt.Errorf("entries: start: %w", err)
	}
	f.ownsSvc = true
	return nil
}

// Stop releases the connections Start opened.
func (f *Function) Stop(context.Context) error {
	if f.ownsSvc && f.svc != nil {
		f.svc.Close()
	}
	return nil
}

// Ready reports whether the function is configured and PostgreSQL and Redis answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.svc == nil {
		return false, errors.New("entries: not started")
	}
	return f.svc.Ready(ctx)
}

// Alive reports that the process can serve; it does not depend on other services.
func (f *Function) Alive(context.Context) (bool, error) {
	return true, nil
}

// Handle serves one HTTP request: the full public paths under /api/v1/entries.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	h := f.handler.Load()
	if h == nil {
		httpapi.Fail(w, r, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable",
			Detail: "the service is starting, try again shortly", RetryAfter: 5 * time.Second})
		return
	}
	(*h).ServeHTTP(w, r)
}
