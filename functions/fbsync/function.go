// Package fbsync is the CloudEvents function that imports users' Facebook posts as diary
// entries: on integration.pull.requested (a user's pull, or a connect) it syncs that
// integration and finishes the pull's job; on each tick of the PingSource facebook-sync
// (hourly) it syncs every active integration that is due. A sync pages through
// GET /me/posts since the integration's cursor and turns each new post into an entry
// (source facebook, occurred_at the post's time) sealed to the user's public key
// (shared/intake): no job ever holds a master key. Each post is imported in one
// transaction with its (account, post id) row, so a redelivered event or an overlapping
// page imports nothing twice. It backs off before Facebook's usage headers reach 100%,
// treats throttling errors (codes 4, 17, 32, 613) as "later", and a refused token (190)
// as needs_reauth, which stops the integration's sync until the user connects again.
package fbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

// Config is the sync consumer's settings.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// RedisURL reaches the intake markers (a uce user's next request redeems what the
	// sync delivered).
	RedisURL string `envconfig:"REDIS_URL" required:"true"`
	// Facebook is the Facebook app (FACEBOOK_*); without an app id the consumer
	// acknowledges every event and does nothing.
	Facebook facebook.Config
	// TokenKey is INTEGRATION_TOKEN_KEY, which opens the integrations' tokens. Secret.
	TokenKey string `envconfig:"INTEGRATION_TOKEN_KEY"`
	// Sink is where the relay sends the outbox's events (entry.changed of imported
	// entries): K_SINK; empty sends none, and they wait for another relay.
	Sink string `envconfig:"K_SINK"`
	// Timeout bounds one event's work (a pull, or an hourly sweep); what is left is done
	// by the next delivery or tick.
	Timeout time.Duration `envconfig:"FACEBOOK_SYNC_TIMEOUT" default:"4m"`
	// PageSize is how many posts one GET /me/posts asks for.
	PageSize int `envconfig:"FACEBOOK_SYNC_PAGE_SIZE" default:"50"`
	// UsageLimit is the percentage of a Facebook rate limit (X-App-Usage,
	// X-Business-Use-Case-Usage) at which a sync stops and the integration waits.
	UsageLimit int `envconfig:"FACEBOOK_USAGE_LIMIT" default:"80"`
	// Clock is the consumer's time; nil means time.Now. Tests set it.
	Clock func() time.Time `ignored:"true"`
}

func (c Config) validate() error {
	switch {
	case c.Timeout <= 0:
		return errors.New("fbsync: FACEBOOK_SYNC_TIMEOUT must be a positive duration")
	case c.PageSize < 1 || c.PageSize > 100:
		return errors.New("fbsync: FACEBOOK_SYNC_PAGE_SIZE must be between 1 and 100")
	case c.UsageLimit < 1 || c.UsageLimit > 99:
		return errors.New("fbsync: FACEBOOK_USAGE_LIMIT must be between 1 and 99 (percent)")
	}
	return c.Facebook.Validate()
}

// Function is the sync consumer.
type Function struct {
	cfg     Config
	db      *pgxpool.Pool
	rdb     *redis.Client
	pending *intake.Pending
	fb      *facebook.Client // nil: no app configured
	tokens  *integration.Tokens
	// relay sends the entry.changed events the sync writes to the outbox.
	relay  *outbox.Relay
	logger *slog.Logger
	owns   bool
}

// New returns a consumer that connects in Start.
func New() *Function { return &Function{} }

// NewWithServices returns a started consumer over db and rdb, for tests and the local
// all-in-one runner; httpClient (nil for a default one) makes the Graph calls. The caller
// keeps ownership of db and rdb.
func NewWithServices(cfg Config, db *pgxpool.Pool, rdb *redis.Client, httpClient *http.Client) (*Function, error) {
	f := &Function{db: db, rdb: rdb}
	if err := f.configure(cfg, httpClient); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Function) configure(cfg Config, httpClient *http.Client) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	relay, err := outbox.NewRelay(f.db, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return fmt.Errorf("fbsync: %w", err)
	}
	f.cfg, f.relay, f.logger, f.pending = cfg, relay, slog.Default(), intake.NewPending(f.rdb)
	// From here on configure cannot fail: the relay runs until Stop.
	if !cfg.Facebook.Configured() {
		f.relay.Start()
		return nil
	}
	if cfg.TokenKey == "" {
		return errors.New("fbsync: INTEGRATION_TOKEN_KEY is required when FACEBOOK_APP_ID is set")
	}
	if f.tokens, err = integration.NewTokens(cfg.TokenKey); err != nil {
		return fmt.Errorf("fbsync: %w", err)
	}
	if f.fb, err = facebook.NewClient(cfg.Facebook, httpClient); err != nil {
		return fmt.Errorf("fbsync: %w", err)
	}
	f.relay.Start()
	return nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault, and readiness reports it.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("fbsync: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return errors.New("fbsync: REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return fmt.Errorf("fbsync: %w", config.Unreachable("REDIS_URL", "redis", err))
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		rdb.Close()
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return fmt.Errorf("fbsync: %w", err)
	}
	f.db, f.rdb, f.owns = db, rdb, true
	if err := f.configure(cfg, nil); err != nil {
		f.Stop(ctx)
		return err
	}
	return nil
}

// Stop ends the outbox relay (sending what is due, within its bound) and closes the
// connections Start opened.
func (f *Function) Stop(ctx context.Context) error {
	err := f.relay.Stop(ctx)
	if f.owns {
		f.db.Close()
		_ = f.rdb.Close()
	}
	return err
}

// Ready reports whether PostgreSQL and Redis answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.db == nil || f.logger == nil {
		return false, errors.New("fbsync: not started")
	}
	if err := f.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("fbsync: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	if err := f.rdb.Ping(ctx).Err(); err != nil {
		return false, fmt.Errorf("fbsync: %w", config.Unreachable("REDIS_URL", "redis", err))
	}
	return true, nil
}

// Alive reports that the process is serving.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle syncs for a pull request or an hourly tick. It never replies with an event; an
// error makes the Broker retry the same event (a Graph or database outage), while what
// retrying cannot fix (an unknown event, a disconnected integration, a refused token, a
// rate limit, which the integration's hold-back and the next tick handle) is acknowledged.
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	return nil, f.handle(ctx, ev)
}

func (f *Function) handle(ctx context.Context, ev event.Event) error {
	logger := f.logger.With("event_id", ev.ID(), "event_type", ev.Type())
	if f.fb == nil {
		logger.Info("fbsync: no Facebook app configured; event acknowledged")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	switch ev.Type() {
	case eventing.TypeIntegrationPullRequested:
		var data eventing.IntegrationPullRequested
		if err := ev.DataAs(&data); err != nil || data.UserID == "" || data.IntegrationID == "" {
			logger.Warn("fbsync ignored a pull request without its ids")
			return nil
		}
		return f.pull(ctx, logger, ev, data)
	case eventing.TypePing:
		var data eventing.PingData
		if err := ev.DataAs(&data); err != nil || data.Job != eventing.JobFacebookSync {
			logger.Warn("fbsync ignored a ping for another job", "event_source", ev.Source())
			return nil
		}
		return f.sweep(ctx, logger)
	default:
		logger.Warn("fbsync ignored an event it does not handle")
		return nil
	}
}

// now is the consumer's clock.
func (f *Function) now() time.Time {
	if f.cfg.Clock != nil {
		return f.cfg.Clock()
	}
	return time.Now()
}
