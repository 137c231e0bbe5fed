// Package importer is the CloudEvents function that runs imports: on each
// import.requested event (emitted by the archive function's POST /imports/{id}/start) it
// reads the user's staged zip from S3 with ranged GETs, checks it (a corrupt zip, a zip
// bomb, a path that leaves the archive, JSON that does not parse: the import fails with a
// clear message and creates nothing), and creates the entries (through shared/intake,
// sealed to the user's public key: the importer never holds a master key) and media
// (copied under the user's prefix, deduplicated by SHA-256 against what the user stores,
// attached to their entries) in bounded batches, recording progress in the import's job.
//
// Every entry and media created is recorded by its source id (import_items) in the
// transaction that creates it, so the same file imported twice creates nothing the second
// time, and a redelivered event continues where the first delivery stopped. An item that
// breaks the rules (an entry over the limits, a photo whose bytes do not match its
// checksum) becomes an errors item of the import and the rest goes on. The staging object
// is removed when the import ends, however it ends.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/store"
)

// Config is the importer's settings.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// RedisURL reaches the intake's pending markers: a uce user's imported entries wait
	// for redemption, and the marker tells their next request so.
	RedisURL string `envconfig:"REDIS_URL" required:"true"`
	// S3 is the object store's part, read on its own by loadConfig.
	S3 objstore.Config `ignored:"true"`
	// Quota is STORAGE_QUOTA_BYTES: imported media count against it like uploads.
	storage.Quota
	// Sink is where the relay sends the outbox's events (entry.changed of the created
	// entries): K_SINK; empty sends none, and they wait for another relay.
	Sink string `envconfig:"K_SINK"`
	// RunTimeout bounds one delivery's work; an import cut short continues on the
	// Broker's retry, after what it recorded.
	RunTimeout time.Duration `envconfig:"IMPORT_TIMEOUT" default:"4m"`
	// BatchSize is how many entries one transaction creates.
	BatchSize int `envconfig:"IMPORT_BATCH_SIZE" default:"200"`
	// MaxFiles, MaxUncompressedBytes and MaxRatio bound what a zip may hold: files, the
	// declared uncompressed total, and how many times one file larger than 1 MiB may
	// inflate. A zip past any of them is refused before anything is created.
	MaxFiles             int   `envconfig:"IMPORT_MAX_FILES" default:"200000"`
	MaxUncompressedBytes int64 `envconfig:"IMPORT_MAX_UNCOMPRESSED_BYTES" default:"8589934592"`
	MaxRatio             int64 `envconfig:"IMPORT_MAX_RATIO" default:"100"`
	// TempDir holds one media's bytes at a time while they are hashed and copied (at most
	// 50 MiB); empty is the system's temporary directory.
	TempDir string `envconfig:"IMPORT_TEMP_DIR"`
}

func (c Config) validate() error {
	switch {
	case c.RunTimeout <= 0:
		return errors.New("importer: IMPORT_TIMEOUT must be a positive duration")
	case c.BatchSize < 1 || c.BatchSize > 5000:
		return errors.New("importer: IMPORT_BATCH_SIZE must be between 1 and 5000")
	case c.MaxFiles < 1:
		return errors.New("importer: IMPORT_MAX_FILES must be positive")
	case c.MaxUncompressedBytes < 1:
		return errors.New("importer: IMPORT_MAX_UNCOMPRESSED_BYTES must be positive")
	case c.MaxRatio < 2:
		return errors.New("importer: IMPORT_MAX_RATIO must be at least 2")
	}
	return c.Quota.Validate()
}

// objectStore is what the importer needs of S3.
type objectStore interface {
	rangeReader
	Put(ctx context.Context, key string, body io.Reader, size int64, sum []byte, contentType string) error
	Delete(ctx context.Context, key string) error
}

// Function is the importer.
type Function struct {
	cfg     Config
	db      *pgxpool.Pool
	pending *intake.Pending
	objects objectStore
	// relay sends the entry.changed events the batches write to the outbox.
	relay   *outbox.Relay
	logger  *slog.Logger
	closers []func()
}

// New returns an importer that connects in Start.
func New() *Function { return &Function{} }

// NewWithServices returns a started importer over db, rdb and objects, for tests and the
// local all-in-one runner. The caller keeps ownership of the connections.
func NewWithServices(cfg Config, db *pgxpool.Pool, rdb redis.Cmdable, objects *objstore.Store) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(db, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return nil, fmt.Errorf("importer: %w", err)
	}
	relay.Start()
	return &Function{cfg: cfg, db: db, pending: intake.NewPending(rdb), objects: objects, relay: relay, logger: slog.Default()}, nil
}

// Start reads the configuration from env and connects to PostgreSQL, Redis and S3. An
// error names the setting at fault, and readiness reports it.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("importer: %w", err)
	}
	if err := config.Load(env, &cfg.S3); err != nil {
		return fmt.Errorf("importer: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	objects, err := objstore.New(cfg.S3)
	if err != nil {
		return fmt.Errorf("importer: %w", err)
	}
	if cfg.S3.CreateBucket {
		if err := objects.EnsureBucket(ctx); err != nil {
			return fmt.Errorf("importer: %w", err)
		}
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return errors.New("importer: REDIS_URL is not a valid redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return fmt.Errorf("importer: %w", config.Unreachable("REDIS_URL", "redis", err))
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		rdb.Close()
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return fmt.Errorf("importer: %w", err)
	}
	relay, err := outbox.NewRelay(db, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		db.Close()
		rdb.Close()
		return fmt.Errorf("importer: %w", err)
	}
	relay.Start()
	f.cfg, f.db, f.pending, f.objects, f.relay, f.logger = cfg, db, intake.NewPending(rdb), objects, relay, slog.Default()
	f.closers = []func(){db.Close, func() { rdb.Close() }}
	return nil
}

// Stop ends the outbox relay (sending what is due, within its bound) and closes the
// connections Start opened.
func (f *Function) Stop(ctx context.Context) error {
	err := f.relay.Stop(ctx)
	for _, c := range f.closers {
		c()
	}
	return err
}

// Ready reports whether PostgreSQL answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.db == nil {
		return false, errors.New("importer: not started")
	}
	if err := f.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("importer: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	return true, nil
}

// Alive reports that the process is serving.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle runs the import an import.requested event names. It never replies with an event;
// an error makes the Broker retry the same event, which continues the import.
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	return nil, f.handle(ctx, ev)
}
