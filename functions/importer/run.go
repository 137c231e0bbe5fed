package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// consumer is the importer's name in processed_events.
const consumer = "importer"

// maxErrors is how many errors items an import lists; the rest are counted in the log.
const maxErrors = 200

// idNamespace derives the ids of what an import creates from the user and the source id,
// so a retried batch writes the same entry and the same object key, never a second one.
var idNamespace = uuid.MustParse("9d3c7f0e-2b8a-4c51-a6f4-1e7d2c9b5a30")

func derivedID(userID, kind, source, sourceID string) string {
	return uuid.NewSHA1(idNamespace, []byte(userID+"\x00"+kind+"\x00"+source+"\x00"+sourceID)).String()
}

// errBadInput is an import that cannot go on for a reason in the file itself; its message
// is for the user, and retrying would not change it.
type errBadInput struct{ msg string }

func (e *errBadInput) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &errBadInput{msg: fmt.Sprintf(format, args...)}
}

// userMessage is the message a permanent failure gives the user, or "" for an error that
// a retry may cure (a database or S3 outage, the run's time running out).
func userMessage(err error) string {
	var bz *errBadZip
	var bi *errBadInput
	switch {
	case errors.As(err, &bz):
		return bz.msg
	case errors.As(err, &bi):
		return bi.msg
	}
	return ""
}

// handle runs the import of an import.requested event. Events that are not the importer's,
// or name no import queued with that job (a forged or stale event), are acknowledged and
// ignored; an error makes the Broker retry.
func (f *Function) handle(ctx context.Context, ev event.Event) error {
	logger := f.logger.With("event_id", ev.ID(), "event_type", ev.Type())
	data, err := decode(ev)
	switch {
	case errors.Is(err, errNotHandled):
		logger.Warn("importer ignored an event it does not handle")
		return nil
	case err != nil:
		logger.Warn("importer ignored an event whose data is not three ids")
		return nil
	}
	logger = logger.With("user_id", data.UserID, "import_id", data.ImportID, "job_id", data.JobID)
	done, err := job.Handled(ctx, f.db, consumer, ev.ID())
	if err != nil {
		return fmt.Errorf("importer: %w", err)
	}
	if done {
		logger.Info("import already handled for this event")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.RunTimeout)
	defer cancel()
	imp, err := loadImport(ctx, f.db, data.UserID, data.ImportID)
	if errors.Is(err, store.ErrNotFound) {
		logger.Warn("importer ignored an event for an import that does not exist")
		return nil
	}
	if err != nil {
		return fmt.Errorf("importer: %w", err)
	}
	if imp.JobID == nil || *imp.JobID != data.JobID || imp.Status == statusAwaitingUpload {
		logger.Warn("importer ignored an event that does not match its import's job")
		return nil
	}
	if imp.Status == statusSucceeded || imp.Status == statusFailed {
		logger.Info("import already finished")
		return job.MarkHandled(ctx, f.db, consumer, ev.ID(), ev.Type())
	}
	r := &run{f: f, imp: imp, logger: logger, eventID: ev.ID(), eventType: ev.Type()}
	if err := r.run(ctx); err != nil {
		if msg := userMessage(err); msg != "" {
			logger.Warn("import failed", "reason", msg)
			return r.finish(context.WithoutCancel(ctx), msg)
		}
		logger.Error("import interrupted; the Broker's retry continues it", "error", err.Error())
		return fmt.Errorf("importer: %w", err)
	}
	logger.Info("import done", "entries_created", r.created.entries, "media_created", r.created.media, "skipped", r.created.skipped, "errors", r.errorCount)
	return r.finish(context.WithoutCancel(ctx), "")
}

// The refusals of decode: events the importer acknowledges without work, since a retry
// would bring the same event.
var (
	errNotHandled = errors.New("importer: an event type the importer does not handle")
	errBadData    = errors.New("importer: data that is not three ids")
)

// decode reads an import.requested event, everything handle decides before the database:
// its three ids, each canonical.
func decode(ev event.Event) (eventing.ImportRequested, error) {
	if ev.Type() != eventing.TypeImportRequested {
		return eventing.ImportRequested{}, errNotHandled
	}
	var data eventing.ImportRequested
	if err := ev.DataAs(&data); err != nil || !eventing.ValidID(data.UserID) || !eventing.ValidID(data.ImportID) || !eventing.ValidID(data.JobID) {
		return eventing.ImportRequested{}, errBadData
	}
	return data, nil
}

// isUUID reports whether s is a UUID in its canonical form, as the diary export writes
// every id.
func isUUID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && id.String() == s
}

// run is one delivery's work on an import.
type run struct {
	f         *Function
	imp       importRow
	logger    *slog.Logger
	eventID   string
	eventType string
	tier      string
	publicKey []byte
	// total and done count entries, for the job's progress.
	total, done int
	created     counts
	// errs are this delivery's errors items, flushed with each batch; errorCount counts
	// all of them, listed or not.
	errs       []itemError
	listed     int
	errorCount int
}

// counts are what a batch adds to the import's row.
type counts struct {
	entries, media, skipped int
}

// itemError is one item of an import's errors.
type itemError struct {
	Item    string `json:"item"`
	Message string `json:"message"`
}

func (r *run) itemError(item, message string) {
	r.errorCount++
	if r.listed+len(r.errs) < maxErrors {
		r.errs = append(r.errs, itemError{Item: item, Message: message})
	}
}

// run starts (or resumes) the import and does its work. A resumed import starts its
// errors list afresh: every item that failed before is tried again (only what succeeded is
// recorded), and fails again into the new list.
func (r *run) run(ctx context.Context) error {
	if err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		if _, err := job.Start(ctx, tx, r.imp.UserID, *r.imp.JobID); err != nil {
			return err
		}
		return markRunning(ctx, tx, r.imp.UserID, r.imp.ID)
	}); err != nil {
		return err
	}
	if err := r.f.db.QueryRow(ctx, `SELECT encryption_tier, public_key FROM users WHERE id = $1`, r.imp.UserID).
		Scan(&r.tier, &r.publicKey); err != nil {
		return fmt.Errorf("read user: %w", store.Translate(err))
	}
	if r.imp.StagingKey == nil {
		return badInput("the uploaded file is no longer there: create a new import")
	}
	ra := newObjectReaderAt(ctx, r.f.objects, *r.imp.StagingKey, r.imp.SizeBytes)
	a, err := openArchive(ra, r.imp.SizeBytes, limits{
		maxFiles: r.f.cfg.MaxFiles, maxUncompressed: r.f.cfg.MaxUncompressedBytes, maxRatio: r.f.cfg.MaxRatio,
	})
	if err != nil {
		return err
	}
	var src source
	switch r.imp.Format {
	case formatDiary:
		src, err = openDiary(a, r.tier)
	case formatDayOne:
		if r.tier != "uce" {
			return badInput("an e2e account can import only its own diary export")
		}
		src, err = openDayOne(a)
	default:
		return badInput("unknown import format")
	}
	if err != nil {
		return err
	}
	// A first pass reads every entry without creating anything: a JSON that does not parse
	// fails the import before it has created a thing, and the count gives the progress.
	if r.total, err = src.count(); err != nil {
		return err
	}
	batch := make([]item, 0, r.f.cfg.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.batch(ctx, a, src, batch)
		batch = batch[:0]
		return err
	}
	err = src.each(func(it item) error {
		batch = append(batch, it)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	// Media attached to no entry (diary only).
	for _, m := range src.loose() {
		if err := r.media(ctx, a, src.name(), m, nil); err != nil {
			return err
		}
	}
	return r.record(ctx, counts{}, 95)
}

// finish ends the import: the staging object is removed first (a run that dies in between
// finds the import unfinished and does it again; deleting a missing object succeeds), then
// the import, its job and the event's id are recorded in one transaction. message is the
// failure's, or "" for success.
func (r *run) finish(ctx context.Context, message string) error {
	if r.imp.StagingKey != nil {
		if err := r.f.objects.Delete(ctx, *r.imp.StagingKey); err != nil {
			return fmt.Errorf("importer: remove the staging object: %w", err)
		}
	}
	err := store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		if err := r.flushErrors(ctx, tx); err != nil {
			return err
		}
		if message == "" {
			if err := job.Succeed(ctx, tx, *r.imp.JobID, map[string]any{
				"entries_created": r.created.entries, "media_created": r.created.media, "skipped": r.created.skipped,
				"errors": r.errorCount,
			}); err != nil {
				return err
			}
		} else if err := job.Fail(ctx, tx, *r.imp.JobID, message); err != nil {
			return err
		}
		if err := finishImport(ctx, tx, r.imp.UserID, r.imp.ID, message); err != nil {
			return err
		}
		return job.MarkHandled(ctx, tx, consumer, r.eventID, r.eventType)
	})
	if err != nil {
		return fmt.Errorf("importer: finish: %w", err)
	}
	return nil
}

// record adds c to the import's counts and sets the job's progress, in its own
// transaction.
func (r *run) record(ctx context.Context, c counts, percent int) error {
	return store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		return r.recordIn(ctx, tx, c, percent)
	})
}

// recordIn adds c to the import's counts, flushes the errors gathered so far and sets the
// job's progress, in tx: the transaction that created what c counts.
func (r *run) recordIn(ctx context.Context, tx pgx.Tx, c counts, percent int) error {
	if err := addCounts(ctx, tx, r.imp.UserID, r.imp.ID, c); err != nil {
		return err
	}
	if err := r.flushErrors(ctx, tx); err != nil {
		return err
	}
	r.created.entries += c.entries
	r.created.media += c.media
	r.created.skipped += c.skipped
	return job.Progress(ctx, tx, *r.imp.JobID, percent, map[string]any{
		"entries_created": r.created.entries, "media_created": r.created.media, "skipped": r.created.skipped,
	})
}

func (r *run) flushErrors(ctx context.Context, tx pgx.Tx) error {
	if len(r.errs) == 0 {
		return nil
	}
	raw, err := json.Marshal(r.errs)
	if err != nil {
		return fmt.Errorf("encode errors: %w", err)
	}
	if err := appendErrors(ctx, tx, r.imp.UserID, r.imp.ID, raw); err != nil {
		return err
	}
	r.listed += len(r.errs)
	r.errs = r.errs[:0]
	return nil
}

// progress is the job's percent after done of total entries: up to 95, the rest for the
// loose media and the finish.
func (r *run) progress() int {
	if r.total == 0 {
		return 95
	}
	return 5 + 90*r.done/r.total
}
