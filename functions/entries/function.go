// Package entries is the entries function: the diary itself. It serves /api/v1/entries
// (create, list, the sync feed, get, update, soft delete, restore, history), encrypts uce
// entries with the session's master key, stores e2e ciphertext verbatim, and writes an
// entry.changed event to the outbox in every change's transaction, which its relay sends
// after the commit (eventing/outbox).
package entries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the entries function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// Sink is where the relay sends the outbox's events: K_SINK, injected by a
	// SinkBinding in the cluster and by the local runner at home. Empty: this function
	// sends none, and its events wait in the outbox for another relay (the janitor's
	// sweep).
	Sink string `envconfig:"K_SINK"`
	// EntryRetention is how long a deleted entry can be restored; the janitor purges it
	// after the same time.
	EntryRetention time.Duration `envconfig:"ENTRY_RETENTION" default:"720h"`
	// IdempotencyKeyTTL is how long an Idempotency-Key is honoured.
	IdempotencyKeyTTL time.Duration `envconfig:"IDEMPOTENCY_KEY_TTL" default:"24h"`
	// PageMaxBytes bounds a list or feed page by the stored (ciphertext) bytes of its
	// entries as well as by limit: the page ends before the entry that would pass it, and
	// always holds at least one entry. It is what keeps one request's memory bounded
	// (docs/benchmarks.md).
	PageMaxBytes int64 `envconfig:"ENTRY_PAGE_MAX_BYTES" default:"4194304"`
	// IntakeRedeemBatch bounds how many pending intake boxes (content that arrived while a
	// uce user was away, shared/intake) one request re-seals before it is served; the rest
	// wait for the next requests.
	IntakeRedeemBatch int `envconfig:"INTAKE_REDEEM_BATCH" default:"20"`
}

// Function is the entries function in knative/func's shape: New, then Start, Handle,
// Ready, Alive and Stop. Its handler serves the full public paths under /api/v1/entries;
// the embedded Lifecycle provides Handle, Ready, Alive and Stop.
type Function struct {
	platform.Lifecycle
}

// New returns an entries function that is configured by Start.
func New() *Function {
	return &Function{Lifecycle: platform.Lifecycle{Name: "entries"}}
}

// NewWithServices returns an entries function that is ready to serve with already
// connected services, for tests and the in-process gateway. Zero durations in cfg take
// their defaults; logger may be nil for slog.Default(); the caller keeps ownership of svc.
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
		return nil, nil, fmt.Errorf("entries: K_SINK: %w", err)
	}
	if cfg.EntryRetention <= 0 {
		cfg.EntryRetention = defaultRetention
	}
	if cfg.IdempotencyKeyTTL <= 0 {
		cfg.IdempotencyKeyTTL = defaultIdempotencyTTL
	}
	if cfg.PageMaxBytes <= 0 {
		cfg.PageMaxBytes = defaultPageMaxBytes
	}
	if cfg.IntakeRedeemBatch <= 0 {
		cfg.IntakeRedeemBatch = defaultRedeemBatch
	}
	api := &api{db: svc.DB, relay: relay,
		retention: cfg.EntryRetention, idempotencyTTL: cfg.IdempotencyKeyTTL, pageMaxBytes: cfg.PageMaxBytes,
		pending: intake.NewPending(svc.Redis), redeemBatch: cfg.IntakeRedeemBatch}
	return routes(api, svc, logger), relay, nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("entries: start: %w", err)
	}
	if cfg.PageMaxBytes < 1 {
		return errors.New("entries: start: ENTRY_PAGE_MAX_BYTES must be at least 1")
	}
	if cfg.IntakeRedeemBatch < 1 {
		return errors.New("entries: start: INTAKE_REDEEM_BATCH must be at least 1")
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("entries: start: %w", err)
	}
	h, relay, err := newHandler(cfg, svc, nil)
	if err != nil {
		svc.Close()
		return fmt.Errorf("entries: start: %w", err)
	}
	// The relay sends what this function writes, and whatever an earlier instance left.
	relay.Start()
	f.Serve(h, svc, true, relay.Stop)
	return nil
}
