// Package purge is the CloudEvents function that finishes an account deletion. When
// DELETE /api/v1/auth/me has erased a user's keys, marked the user deleted and revoked
// every session, auth emits com.xmojo.diary.account.deleted (Trigger
// purge-account-deleted); the purge then removes everything left of the user:
//   - the user's entries, in bounded batches under the user's entry lock (their history,
//     idempotency keys and whatever else references an entry goes with them, by cascade);
//   - the user's media rows, in batches, and every S3 object under the user's prefix
//     (u/<user id>/, shared/objstore.DeletePrefix);
//   - finally the users row, whose deletion cascades to every other row of the user
//     (recovery codes, jobs, and every per-user table: each references users ON DELETE
//     CASCADE, which TestEveryUserTableCascades holds every future table to).
//
// Progress goes to the purge job the deletion queued (shared/job). That job belongs to
// the user, so it goes with the users row in the purge's last transaction: while the purge
// runs it is readable in the jobs table (the user can no longer authenticate to read it),
// and once the user is gone GET /api/v1/jobs/{id} answers 404 to anyone, like any id that
// is not theirs. The users row's absence is the record that the purge finished.
//
// Redelivery is harmless: each step deletes what is left, so a delivery after a failure
// resumes, and one after the end finds no user and does nothing. An event for a user that
// is not marked deleted is refused (logged and acknowledged): no event can purge a live
// account. On the daily-cleanup tick (Trigger purge-daily-cleanup) the purge also finishes
// any account marked deleted more than SWEEP_AFTER ago, so a lost or dead-lettered event
// delays a purge by a day at most.
package purge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

// Config is the purge's settings.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	objstore.Config
	// Timeout bounds one delivery; a purge cut short resumes on the Broker's retry.
	Timeout time.Duration `envconfig:"PURGE_TIMEOUT" default:"4m"`
	// BatchSize is how many entries or media rows one transaction deletes.
	BatchSize int `envconfig:"PURGE_BATCH_SIZE" default:"1000"`
	// SweepAfter is how long after its deletion an account whose purge has not finished
	// (its event lost, or dead-lettered) is purged by the daily sweep.
	SweepAfter time.Duration `envconfig:"PURGE_SWEEP_AFTER" default:"1h"`
}

func (c Config) validate() error {
	switch {
	case c.Timeout <= 0:
		return errors.New("purge: PURGE_TIMEOUT must be a positive duration")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return errors.New("purge: PURGE_BATCH_SIZE must be between 1 and 10000")
	case c.SweepAfter <= 0:
		return errors.New("purge: PURGE_SWEEP_AFTER must be a positive duration")
	}
	return nil
}

// objectStore is what the purge needs of S3.
type objectStore interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Function is the purge.
type Function struct {
	cfg     Config
	db      *pgxpool.Pool
	objects objectStore
	logger  *slog.Logger
	ownsDB  bool
}

// New returns a purge that connects in Start.
func New() *Function { return &Function{} }

// NewWithServices returns a started purge using db and objects, for tests and the local
// all-in-one runner. The caller keeps ownership of db.
func NewWithServices(cfg Config, db *pgxpool.Pool, objects *objstore.Store) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Function{cfg: cfg, db: db, objects: objects, logger: slog.Default()}, nil
}

// Start reads the configuration from env and connects to PostgreSQL and S3. An error names
// the setting at fault, and readiness reports it.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	objects, err := objstore.New(cfg.Config)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if cfg.CreateBucket {
		if err := objects.EnsureBucket(ctx); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return fmt.Errorf("purge: %w", err)
	}
	f.cfg, f.db, f.objects, f.logger, f.ownsDB = cfg, db, objects, slog.Default(), true
	return nil
}

// Stop closes the connections Start opened.
func (f *Function) Stop(context.Context) error {
	if f.ownsDB && f.db != nil {
		f.db.Close()
	}
	return nil
}

// Ready reports whether PostgreSQL answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.db == nil {
		return false, errors.New("purge: not started")
	}
	if err := f.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("purge: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	return true, nil
}

// Alive reports that the process is serving.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle purges the account an account.deleted event names, or sweeps on a daily-cleanup
// tick. It never replies with an event; an error makes the Broker retry the same event.
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	return nil, f.handle(ctx, ev)
}

func (f *Function) handle(ctx context.Context, ev event.Event) error {
	logger := f.logger.With("event_id", ev.ID(), "event_type", ev.Type())
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := decode(ev)
	switch {
	case errors.Is(err, errBadData):
		logger.Warn("purge ignored an account.deleted event without valid data")
		return nil
	case errors.Is(err, errOtherJob):
		logger.Warn("purge ignored a ping for another job", "event_source", ev.Source())
		return nil
	case err != nil:
		logger.Warn("purge ignored an event it does not handle")
		return nil
	case req.sweep:
		return f.sweep(ctx, logger)
	}
	res, err := f.purge(ctx, req.account.UserID, req.account.JobID)
	return f.report(logger, req.account.UserID, res, err)
}

// request is what an event asks of purge: the daily sweep, or one account's purge.
type request struct {
	sweep   bool
	account eventing.AccountDeleted
}

// The refusals of decode: events purge acknowledges without work, since a retry would
// bring the same event.
var (
	errNotHandled = errors.New("purge: an event type purge does not handle")
	errBadData    = errors.New("purge: account.deleted data that does not decode")
	errOtherJob   = errors.New("purge: a ping for another job")
)

// decode reads an event, everything handle decides before the database. The ids of an
// account.deleted are judged by purge itself (one that is no id is an account gone).
func decode(ev event.Event) (request, error) {
	switch ev.Type() {
	case eventing.TypeAccountDeleted:
		var data eventing.AccountDeleted
		if err := ev.DataAs(&data); err != nil {
			return request{}, errBadData
		}
		return request{account: data}, nil
	case eventing.TypePing:
		var data eventing.PingData
		if err := ev.DataAs(&data); err != nil || data.Job != eventing.JobCleanup {
			return request{}, errOtherJob
		}
		return request{sweep: true}, nil
	}
	return request{}, errNotHandled
}

// report logs the outcome of one account's purge and turns it into Handle's answer.
func (f *Function) report(logger *slog.Logger, userID string, res result, err error) error {
	logger = logger.With("user_id", userID)
	switch {
	case errors.Is(err, errNotDeleted):
		// Retrying would not make the account deleted: acknowledge, and do nothing.
		logger.Warn("purge refused: the account is not marked deleted")
		return nil
	case errors.Is(err, errGone):
		logger.Info("purge: nothing left of the account")
		return nil
	case err != nil:
		logger.Error("purge failed", "error", err.Error(), "entries_deleted", res.Entries, "media_deleted", res.Media)
		return fmt.Errorf("purge: %w", err)
	}
	logger.Info("account purged", "entries_deleted", res.Entries, "media_deleted", res.Media, "objects_deleted", res.Objects)
	return nil
}
