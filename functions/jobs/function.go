// Package jobs is the jobs function: it serves /api/v1/jobs, where a client follows the
// background work done for it (a search reindex, a Facebook pull, its share of the daily
// cleanup). Whoever runs the work writes the jobs rows (migrations/0004_jobs.sql); this
// function only reads them, and only the caller's own.
package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the jobs function's settings, read from the environment at Start.
type Config struct {
	platform.Config
}

// Function is the jobs function in knative/func's shape: New, then Start, Handle, Ready,
// Alive and Stop. Its handler serves the full public paths under /api/v1/jobs; the
// embedded Lifecycle provides Handle, Ready, Alive and Stop.
type Function struct {
	platform.Lifecycle
}

// New returns a jobs function that is configured by Start.
func New() *Function { return &Function{Lifecycle: platform.Lifecycle{Name: "jobs"}} }

// NewWithServices returns a jobs function ready to serve with already connected services,
// for tests and the in-process gateway. logger may be nil for slog.Default(); the caller
// keeps ownership of svc.
func NewWithServices(svc *platform.Services, logger *slog.Logger) *Function {
	f := New()
	f.Serve(routes(&api{db: svc.DB}, svc, logger), svc, false)
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
	f.Serve(routes(&api{db: svc.DB}, svc, nil), svc, true)
	return nil
}
