// Package search is the search function: full-text search over a uce user's entries at
// /api/v1/search, a rebuild of the user's index on request (/index) and the index's
// counts (/stats). The index holds keyed tokens only (shared/blindindex): a query is
// hashed under the caller's search key, derived from the master key in the session, and
// matched by PostgreSQL; the hits are decrypted in memory to cut their snippets. e2e users
// get 403 feature_unavailable_for_tier: the server cannot read what it would search.
package search

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the search function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// Sink is where the relay sends the outbox's events: K_SINK, injected by a
	// SinkBinding in the cluster and by the local runner at home. Empty: this function
	// sends none, and its events wait in the outbox for another relay (the janitor's
	// sweep).
	Sink string `envconfig:"K_SINK"`
}

// Function is the search function in knative/func's shape: New, then Start, Handle,
// Ready, Alive and Stop. Its handler serves the full public paths under /api/v1/search;
// the embedded Lifecycle provides Handle, Ready, Alive and Stop.
type Function struct {
	platform.Lifecycle
}

// New returns a search function that is configured by Start.
func New() *Function { return &Function{Lifecycle: platform.Lifecycle{Name: "search"}} }

// NewWithServices returns a search function ready to serve with already connected
// services, for tests and the in-process gateway. logger may be nil for slog.Default();
// the caller keeps ownership of svc.
func NewWithServices(cfg Config, svc *platform.Services, logger *slog.Logger) (*Function, error) {
	h, relay, err := newHandler(cfg, svc, logger)
	if err != nil {
		return nil, err
	}
	f := New()
	relay.Start()
	f.Serve(h, svc, false, relay.Stop)
	return f, nil
}

// newHandler builds the function's routes over svc, and the outbox relay they wake (not
// yet started).
func newHandler(cfg Config, svc *platform.Services, logger *slog.Logger) (http.Handler, *outbox.Relay, error) {
	relay, err := outbox.NewRelay(svc.DB, outbox.RelayConfig{Sink: cfg.Sink, Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("search: K_SINK: %w", err)
	}
	return routes(&api{db: svc.DB, relay: relay}, svc, logger), relay, nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("search: start: %w", err)
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("search: start: %w", err)
	}
	h, relay, err := newHandler(cfg, svc, nil)
	if err != nil {
		svc.Close()
		return fmt.Errorf("search: start: %w", err)
	}
	relay.Start()
	f.Serve(h, svc, true, relay.Stop)
	return nil
}
