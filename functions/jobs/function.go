// Package jobs is the jobs function: it serves /api/v1/jobs, where a client follows the
// background work done for it (a search reindex, a Facebook pull, its share of the daily
// cleanup). Whoever runs the work writes the jobs rows (migrations/0004_jobs.sql); this
// function only reads them, and only the caller's own.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the jobs function's settings, read from the environment at Start.
type Config struct {
	platform.Config
}

// Function is the jobs function in knative/func's shape: New, then Start, Handle, Ready,
// Alive and Stop.
type Function struct {
	// handler is set once Start has connected; until then Handle answers 503.
	handler atomic.Pointer[http.Handler]
	svc     *platform.Services
	ownsSvc bool
}

// New returns a jobs function that is configured by Start.
func New() *Function { return &Function{} }

// NewWithServices returns a jobs function ready to serve with already connected services,
// for tests and the in-process gateway. logger may be nil for slog.Default(); the caller
// keeps ownership of svc.
func NewWithServices(svc *platform.Services, logger *slog.Logger) *Function {
	f := &Function{svc: svc}
	h := routes(&api{db: svc.DB}, svc, logger)
	f.handler.Store(&h)
	return f
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	h := routes(&api{db: svc.DB}, svc, nil)
	f.svc, f.ownsSvc = svc, true
	f.handler.Store(&h)
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
		return false, errors.New("jobs: not started")
	}
	return f.svc.Ready(ctx)
}

// Alive reports that the process can serve; it does not depend on other services.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle serves one HTTP request: the full public paths under /api/v1/jobs.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	h := f.handler.Load()
	if h == nil {
		httpapi.Fail(w, r, httpapi.Unavailable("the service is starting, try again shortly"))
		return
	}
	(*h).ServeHTTP(w, r)
}
