// Package indexer is the CloudEvents function that rebuilds a uce user's search index on
// request. The search function answers POST /api/v1/search/index by queuing a job and
// emitting com.xmojo.diary.search.reindex.requested (user, job and session ids; Trigger
// indexer-search-reindex). The indexer then
//   - takes the user's master key from that session while it lives (sealed in Redis under
//     SESSION_KEY); a session that has ended fails the job with "log in again to reindex",
//     never a silent success;
//   - decrypts the user's entries in batches of REINDEX_BATCH_SIZE, in id order, and
//     writes their tokens (shared/blindindex) with the job's progress and the last entry
//     done, one transaction per batch, so a run cut short resumes where it stopped;
//   - finishes the job and records the event id (processed_events) in one transaction, so
//     a redelivery is acknowledged and does nothing.
//
// It is its own function, not a CloudEvents handler inside functions/search, because a
// function under func-go has one invoke type (http or cloudevent), chosen in its func.yaml.
package indexer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/store"
)

// Config is the indexer's settings.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	RedisURL    string `envconfig:"REDIS_URL" required:"true"`
	// SessionKey unseals the master key held by the session the event names.
	SessionKey string `envconfig:"SESSION_KEY" required:"true"`
	// BatchSize is how many entries one transaction indexes.
	BatchSize int `envconfig:"REINDEX_BATCH_SIZE" default:"200"`
	// RunTimeout bounds one delivery; a run cut short resumes on the Broker's retry.
	RunTimeout time.Duration `envconfig:"REINDEX_TIMEOUT" default:"4m"`
}

func (c Config) validate() error {
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return errors.New("indexer: REINDEX_BATCH_SIZE must be between 1 and 10000")
	}
	if c.RunTimeout <= 0 {
		return errors.New("indexer: REINDEX_TIMEOUT must be a positive duration")
	}
	return nil
}

// sessionStore is what the indexer needs of the sessions: the live session and its key.
type sessionStore interface {
	Get(ctx context.Context, id string) (session.Session, error)
	MasterKey(sess session.Session) ([]byte, error)
}

// Function is the indexer.
type Function struct {
	cfg      Config
	db       *pgxpool.Pool
	rdb      *redis.Client
	sessions sessionStore
	logger   *slog.Logger
}

// New returns an indexer that connects in Start.
func New() *Function { return &Function{} }

// NewWithServices returns a started indexer over db and sessions, for tests and the
// local all-in-one runner. The caller keeps ownership of both.
func NewWithServices(cfg Config, db *pgxpool.Pool, sessions *session.Store) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Function{cfg: cfg, db: db, sessions: sessions, logger: slog.Default()}, nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault, and readiness reports it.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("indexer: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	sessKey, err := base64.StdEncoding.DecodeString(cfg.SessionKey)
	if err != nil || len(sessKey) != 32 {
		return errors.New("indexer: SESSION_KEY must be the standard base64 of 32 bytes")
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return errors.New("indexer: REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	sessions, err := session.NewStore(rdb, sessKey)
	if err != nil {
		rdb.Close()
		return fmt.Errorf("indexer: SESSION_KEY: %w", err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		rdb.Close()
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return fmt.Errorf("indexer: %w", err)
	}
	f.cfg, f.db, f.rdb, f.sessions, f.logger = cfg, db, rdb, sessions, slog.Default()
	return nil
}

// Stop closes the connections Start opened.
func (f *Function) Stop(context.Context) error {
	if f.rdb != nil {
		f.rdb.Close()
		if f.db != nil {
			f.db.Close()
		}
	}
	return nil
}

// Ready reports whether PostgreSQL and Redis answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.db == nil {
		return false, errors.New("indexer: not started")
	}
	if err := f.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("indexer: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	if f.rdb != nil {
		if err := f.rdb.Ping(ctx).Err(); err != nil {
			return false, fmt.Errorf("indexer: %w", config.Unreachable("REDIS_URL", "redis", err))
		}
	}
	return true, nil
}

// Alive reports that the process is serving.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
