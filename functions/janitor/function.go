// Package janitor is the CloudEvents function that does the project's daily cleanup. The
// PingSource daily-cleanup sends it {"job":"cleanup"} through the Broker (Trigger
// janitor-daily-cleanup); on each tick it
//   - removes the S3 objects no media refers to any more (of deleted media, and of
//     uploads still pending PENDING_UPLOAD_TTL past their URL's expiry), then the rows;
//   - purges the entries soft-deleted longer than ENTRY_RETENTION ago, with their history
//     and idempotency keys (the foreign keys cascade; media attached to a purged entry stay
//     the user's, unattached), under each user's entry write lock (shared/userlock);
//   - ends imports whose staged zip nobody will use (an upload never started, an import
//     whose event the Broker gave up on) and removes their staging objects;
//   - expires old idempotency keys, processed event ids, finished jobs and delivered
//     outbox rows;
//   - records the run as a system job and, for every user whose data it touched, a child
//     job the user can read with GET /api/v1/jobs.
//
// Every cut-off is computed from the janitor's own clock, never from a time later than it:
// a tick's time is what its sender wrote, so a tick far from the clock is refused (logged
// and acknowledged) and one slightly ahead runs with the clock's time. It handles a
// redelivered event once (processed_events), resumes a run that died half-way with the
// same cut-off times, and returns an error on any failure so the Broker retries.
//
// On each outbox-sweep tick (every 5 minutes, Trigger janitor-outbox-sweep) it relays the
// outbox rows that are due, whichever function wrote them (eventing/outbox).
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

// Config is the janitor's settings.
type Config struct {
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	objstore.Config
	// EntryRetention is how long a soft-deleted entry can be restored before it is purged.
	EntryRetention time.Duration `envconfig:"ENTRY_RETENTION" default:"720h"`
	// PendingUploadTTL is how long past its URL's expiry an upload may stay pending (and
	// still be completed) before the janitor removes it; it counts against the quota until
	// then.
	PendingUploadTTL time.Duration `envconfig:"PENDING_UPLOAD_TTL" default:"24h"`
	// IdempotencyKeyTTL is how long an entry create's Idempotency-Key is honoured.
	IdempotencyKeyTTL time.Duration `envconfig:"IDEMPOTENCY_KEY_TTL" default:"24h"`
	// JobRetention is how long finished jobs stay readable.
	JobRetention time.Duration `envconfig:"JOB_RETENTION" default:"720h"`
	// ProcessedEventRetention is how long handled event ids are remembered: far longer
	// than the Broker retries.
	ProcessedEventRetention time.Duration `envconfig:"PROCESSED_EVENT_RETENTION" default:"168h"`
	// RunTimeout bounds one cleanup run; a run cut short resumes on the Broker's retry.
	RunTimeout time.Duration `envconfig:"CLEANUP_TIMEOUT" default:"4m"`
	// BatchSize is how many rows one step reads and deletes at a time.
	BatchSize int `envconfig:"CLEANUP_BATCH_SIZE" default:"500"`
	// EventMaxAhead is how far ahead of the janitor's clock a tick's time may be. The
	// cut-offs never come from a time past the clock (min(event time, now)); a tick
	// further ahead is no PingSource's and is refused.
	EventMaxAhead time.Duration `envconfig:"CLEANUP_EVENT_MAX_AHEAD" default:"1h"`
	// EventMaxAge is how far behind the clock a tick's time may be: room for the Broker's
	// retries and an operator re-sending a dead letter the same day. An older tick is
	// refused; the next daily tick does the same work.
	EventMaxAge time.Duration `envconfig:"CLEANUP_EVENT_MAX_AGE" default:"24h"`
	// OutboxRetention is how long delivered outbox rows are kept (for an operator
	// tracing an event) before the daily cleanup deletes them; undelivered rows are never
	// deleted by age.
	OutboxRetention time.Duration `envconfig:"OUTBOX_RETENTION" default:"168h"`
	// Sink is where the outbox sweep sends what is due: K_SINK, the Broker (the
	// SinkBinding gives it to the janitor too). Empty: the sweep sends nothing.
	Sink string `envconfig:"K_SINK"`
	// MetricsAddress is where the janitor serves GET /metrics (shared/metrics: its runs'
	// last success, database and S3 errors) on a listener of its own; empty serves none.
	MetricsAddress string `envconfig:"METRICS_ADDRESS"`
	// Clock is the janitor's own time, from which every cut-off is computed; nil means
	// time.Now. Tests set it.
	Clock func() time.Time `ignored:"true"`
}

func (c Config) validate() error {
	for name, d := range map[string]time.Duration{
		"ENTRY_RETENTION": c.EntryRetention, "PENDING_UPLOAD_TTL": c.PendingUploadTTL,
		"IDEMPOTENCY_KEY_TTL": c.IdempotencyKeyTTL, "JOB_RETENTION": c.JobRetention,
		"PROCESSED_EVENT_RETENTION": c.ProcessedEventRetention, "CLEANUP_TIMEOUT": c.RunTimeout,
		"CLEANUP_EVENT_MAX_AHEAD": c.EventMaxAhead, "CLEANUP_EVENT_MAX_AGE": c.EventMaxAge,
		"OUTBOX_RETENTION": c.OutboxRetention,
	} {
		if d <= 0 {
			return fmt.Errorf("janitor: %s must be a positive duration", name)
		}
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return errors.New("janitor: CLEANUP_BATCH_SIZE must be between 1 and 10000")
	}
	return nil
}

// objectRemover is what the janitor needs of the object store.
type objectRemover interface {
	Delete(ctx context.Context, key string) error
}

// Function is the janitor.
type Function struct {
	cfg     Config
	db      *pgxpool.Pool
	objects objectRemover
	logger  *slog.Logger
	// relay sends the outbox's due rows on each sweep tick; it does not run in the
	// background (the janitor writes no events of its own).
	relay  *outbox.Relay
	ownsDB bool
	// metrics is the listener Start opened, if any.
	metrics *metrics.Listener
}

// New returns a janitor that connects in Start.
func New() *Function { return &Function{} }

// NewWithServices returns a started janitor using db and objects, for tests and the local
// all-in-one runner. The caller keeps ownership of db.
func NewWithServices(cfg Config, db *pgxpool.Pool, objects *objstore.Store) (*Function, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(db, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return nil, fmt.Errorf("janitor: %w", err)
	}
	return &Function{cfg: cfg, db: db, objects: objects, logger: slog.Default(), relay: relay}, nil
}

// Start reads the configuration from env and connects to PostgreSQL and S3. An error names
// the setting at fault, and readiness reports it.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("janitor: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	objects, err := objstore.New(cfg.Config)
	if err != nil {
		return fmt.Errorf("janitor: %w", err)
	}
	if cfg.CreateBucket {
		if err := objects.EnsureBucket(ctx); err != nil {
			return fmt.Errorf("janitor: %w", err)
		}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		if errors.Is(err, outage.ErrUnavailable) {
			err = config.Unreachable("DATABASE_URL", "postgres", err)
		}
		return fmt.Errorf("janitor: %w", err)
	}
	relay, err := outbox.NewRelay(db, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		db.Close()
		return fmt.Errorf("janitor: %w", err)
	}
	if cfg.MetricsAddress != "" {
		if f.metrics, err = metrics.Serve(cfg.MetricsAddress); err != nil {
			db.Close()
			return fmt.Errorf("janitor: %w", err)
		}
	}
	f.cfg, f.db, f.objects, f.logger, f.relay, f.ownsDB = cfg, db, objects, slog.Default(), relay, true
	metrics.Started("janitor")
	return nil
}

// Stop closes the connections Start opened.
func (f *Function) Stop(ctx context.Context) error {
	if f.ownsDB && f.db != nil {
		f.db.Close()
	}
	if f.metrics != nil {
		return f.metrics.Close(ctx)
	}
	return nil
}

// Ready reports whether PostgreSQL answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.db == nil {
		return false, errors.New("janitor: not started")
	}
	if err := f.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("janitor: %w", config.Unreachable("DATABASE_URL", "postgres", err))
	}
	return true, nil
}

// Alive reports that the process is serving.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle runs the cleanup for a daily-cleanup tick. The janitor never replies with an
// event: the nil event is the CloudEvents function contract's "acknowledged, no reply",
// and the error alone says what happened (see handle).
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	return nil, f.handle(ctx, ev)
}

// handle runs the cleanup for the event. Events that are not a cleanup ping are
// acknowledged and ignored (the Trigger should not send them; retrying would not help),
// and so are ticks whose time is too far from the janitor's clock (see referenceTime). An
// error makes the Broker retry the same event.
func (f *Function) handle(ctx context.Context, ev event.Event) error {
	logger := f.logger.With("event_id", ev.ID(), "event_type", ev.Type())
	if ev.Type() != eventing.TypePing {
		logger.Warn("janitor ignored an event it does not handle")
		return nil
	}
	var data eventing.PingData
	if err := ev.DataAs(&data); err == nil && data.Job == eventing.JobOutboxSweep {
		return f.sweep(ctx, logger)
	}
	if data.Job != eventing.JobCleanup {
		logger.Warn("janitor ignored a ping for another job", "event_source", ev.Source())
		return nil
	}
	now := f.now()
	at, err := f.referenceTime(ev.Time(), now)
	if err != nil {
		// Retrying would not make the time right: acknowledge, and do nothing.
		logger.Warn("janitor refused a cleanup ping", "event_source", ev.Source(),
			"event_time", ev.Time().UTC(), "now", now.UTC(), "reason", err.Error())
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.RunTimeout)
	defer cancel()
	res, err := f.cleanup(ctx, logger, ev.ID(), at, now)
	if errors.Is(err, errAlreadyDone) {
		logger.Info("cleanup already done for this event")
		return nil
	}
	if errors.Is(err, errBusy) {
		// The run in progress does the same work; a second one would only wait for it.
		logger.Info("cleanup skipped: another run is in progress")
		return nil
	}
	if err != nil {
		logger.Error("cleanup failed", "error", err.Error())
		return fmt.Errorf("janitor: cleanup: %w", err)
	}
	logger.Info("cleanup done", "job_id", res.RunID, "entries_purged", res.EntriesPurged,
		"media_removed", res.MediaRemoved, "uploads_expired", res.UploadsExpired, "imports_expired", res.ImportsExpired, "users", res.Users,
		"idempotency_keys_expired", res.IdempotencyKeysExpired, "jobs_purged", res.JobsPurged,
		"processed_events_purged", res.ProcessedEventsPurged, "outbox_events_purged", res.OutboxEventsPurged)
	return nil
}

// sweep relays every outbox row that is due, whichever function wrote it, within
// RunTimeout: rows left by a function that scaled to zero while the Broker was away. A
// tick cannot do harm whoever sent it (it only sends what is due), so its time is not
// checked. A row the Broker refuses waits for its backoff, and the next tick; only a
// database failure fails the tick (the Broker retries).
func (f *Function) sweep(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.RunTimeout)
	defer cancel()
	sent, err := f.relay.Flush(ctx)
	if err != nil {
		logger.Error("outbox sweep failed", "sent", sent, "error", err.Error())
		return fmt.Errorf("janitor: outbox sweep: %w", err)
	}
	logger.Info("outbox sweep done", "sent", sent)
	return nil
}

// now is the janitor's clock.
func (f *Function) now() time.Time {
	if f.cfg.Clock != nil {
		return f.cfg.Clock()
	}
	return time.Now()
}

// referenceTime returns the time a tick's cut-offs are computed from: the tick's time,
// never later than now, or now for a tick without a time. An event's time is whatever its
// sender wrote, not a clock: trusted as it is, a tick dated 2099 would purge every deleted
// entry at once. So a tick more than EventMaxAhead ahead of now, or more than EventMaxAge
// behind it, is refused; one a little ahead (clock skew) runs with now.
func (f *Function) referenceTime(evTime, now time.Time) (time.Time, error) {
	switch {
	case evTime.IsZero():
		return now, nil
	case evTime.After(now.Add(f.cfg.EventMaxAhead)):
		return time.Time{}, fmt.Errorf("the event's time is more than CLEANUP_EVENT_MAX_AHEAD (%s) ahead of the clock", f.cfg.EventMaxAhead)
	case evTime.Before(now.Add(-f.cfg.EventMaxAge)):
		return time.Time{}, fmt.Errorf("the event's time is more than CLEANUP_EVENT_MAX_AGE (%s) behind the clock", f.cfg.EventMaxAge)
	case evTime.After(now):
		return now, nil
	}
	return evTime, nil
}
