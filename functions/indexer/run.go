package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/store"
)

// consumer is the indexer's name in processed_events.
const consumer = "indexer"

// MessageLogInAgain is the failed job's error when the session that asked for the
// reindex has ended: the key is gone with it.
const MessageLogInAgain = "log in again to reindex"

// Keys of the job's result: counts, and the last entry id done (where a resumed run
// goes on).
const (
	resultIndexed    = "indexed_entries"
	resultUnreadable = "unreadable_entries"
	resultAfter      = "after_entry_id"
)

// errSessionEnded stops a run whose session has ended.
var errSessionEnded = errors.New("indexer: the session has ended")

// errBusy is returned when another delivery of the same job holds its lock.
var errBusy = errors.New("indexer: the job is being run by another delivery")

// Handle rebuilds the index for a reindex event. It never replies with an event; an
// error makes the Broker retry the same event.
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	return nil, f.handle(ctx, ev)
}

func (f *Function) handle(ctx context.Context, ev event.Event) error {
	logger := f.logger.With("event_id", ev.ID(), "event_type", ev.Type())
	data, err := decode(ev)
	switch {
	case errors.Is(err, errNotHandled):
		logger.Warn("indexer ignored an event it does not handle")
		return nil
	case err != nil:
		// Retrying would not make the data right.
		logger.Warn("indexer ignored a malformed reindex event")
		return nil
	}
	logger = logger.With("user_id", data.UserID, "job_id", data.JobID)
	ctx, cancel := context.WithTimeout(ctx, f.cfg.RunTimeout)
	defer cancel()
	err = f.run(ctx, logger, ev, data)
	switch {
	case errors.Is(err, errBusy):
		logger.Info("reindex skipped: another delivery is running this job")
		return nil
	case err != nil:
		logger.Error("reindex failed", "error", err.Error())
		return fmt.Errorf("indexer: reindex: %w", err)
	}
	return nil
}

// The refusals of decode: events the indexer acknowledges without work, since a retry
// would bring the same event.
var (
	errNotHandled = errors.New("indexer: an event type the indexer does not handle")
	errBadData    = errors.New("indexer: reindex data that is not three ids")
)

// decode reads a reindex event, everything handle decides before the database or the
// session store: its user, job and session ids, each canonical.
func decode(ev event.Event) (eventing.SearchReindexRequested, error) {
	if ev.Type() != eventing.TypeSearchReindexRequested {
		return eventing.SearchReindexRequested{}, errNotHandled
	}
	var data eventing.SearchReindexRequested
	if err := ev.DataAs(&data); err != nil || !eventing.ValidID(data.UserID) || !eventing.ValidID(data.JobID) || !eventing.ValidID(data.SessionID) {
		return eventing.SearchReindexRequested{}, errBadData
	}
	return data, nil
}

// run runs (or resumes) the job of the event.
func (f *Function) run(ctx context.Context, logger *slog.Logger, ev event.Event, data eventing.SearchReindexRequested) error {
	if done, err := job.Handled(ctx, f.db, consumer, ev.ID()); err != nil || done {
		if done {
			logger.Info("reindex already done for this event")
		}
		return err
	}
	j, err := job.Get(ctx, f.db, data.UserID, data.JobID)
	if errors.Is(err, job.ErrNotFound) {
		// Not this user's job (or gone with the account): nothing to do, nothing to retry.
		logger.Warn("indexer ignored a reindex event for a job the user does not have")
		return nil
	}
	if err != nil {
		return err
	}
	if j.Kind != "search_index" {
		logger.Warn("indexer ignored a reindex event for a job of another kind", "job_kind", j.Kind)
		return nil
	}

	// One delivery at a time runs a job: a session-level advisory lock on a connection
	// held for the run.
	conn, err := f.db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", store.Translate(err))
	}
	defer conn.Release()
	lockKey := "search-reindex:" + data.JobID
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, lockKey).Scan(&locked); err != nil {
		return fmt.Errorf("lock: %w", store.Translate(err))
	}
	if !locked {
		return errBusy
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey)
	}()

	started, err := job.Start(ctx, f.db, data.UserID, data.JobID)
	if err != nil {
		return err
	}
	if !started {
		// Finished by an earlier delivery whose mark did not land: mark it now.
		return job.MarkHandled(ctx, f.db, consumer, ev.ID(), ev.Type())
	}
	if j, err = job.Get(ctx, f.db, data.UserID, data.JobID); err != nil {
		return err
	}
	r := &rebuild{f: f, logger: logger, data: data, eventID: ev.ID(), eventType: ev.Type()}
	r.resume(j.Result)
	err = r.rebuild(ctx)
	if errors.Is(err, errSessionEnded) {
		logger.Info("reindex failed: the session has ended")
		return r.finish(ctx, func(tx pgx.Tx) error { return job.Fail(ctx, tx, data.JobID, MessageLogInAgain) })
	}
	if err != nil {
		return err
	}
	logger.Info("reindex done", resultIndexed, r.indexed, resultUnreadable, r.unreadable)
	return r.finish(ctx, func(tx pgx.Tx) error {
		return job.Succeed(ctx, tx, data.JobID, map[string]any{resultIndexed: r.indexed, resultUnreadable: r.unreadable})
	})
}

// rebuild is one run of a job.
type rebuild struct {
	f                  *Function
	logger             *slog.Logger
	data               eventing.SearchReindexRequested
	eventID, eventType string
	after              *string // the last entry id done
	indexed            int
	unreadable         int
}

// resume picks up where an earlier delivery's last batch left the job.
func (r *rebuild) resume(result map[string]any) {
	if id, ok := result[resultAfter].(string); ok && eventing.ValidID(id) {
		r.after = &id
	}
	if n, ok := result[resultIndexed].(float64); ok {
		r.indexed = int(n)
	}
	if n, ok := result[resultUnreadable].(float64); ok {
		r.unreadable = int(n)
	}
}

// finish ends the job with fn and records the event as handled, in one transaction.
func (r *rebuild) finish(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return job.MarkHandled(ctx, tx, consumer, r.eventID, r.eventType)
	})
}

// masterKey opens the master key of the event's session, which must be the user's and
// live: anything else is errSessionEnded. A Redis outage is an error to retry.
func (r *rebuild) masterKey(ctx context.Context) ([]byte, error) {
	sess, err := r.f.sessions.Get(ctx, r.data.SessionID)
	if errors.Is(err, session.ErrNotFound) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	if sess.UserID != r.data.UserID {
		return nil, errSessionEnded
	}
	key, err := r.f.sessions.MasterKey(sess)
	if errors.Is(err, session.ErrNoMasterKey) {
		return nil, errSessionEnded
	}
	return key, err
}

// rebuild indexes the user's entries after r.after, a batch per transaction. The session
// is checked before every batch: a logout stops the run at the next one.
func (r *rebuild) rebuild(ctx context.Context) error {
	total, err := countEntries(ctx, r.f.db, r.data.UserID)
	if err != nil {
		return err
	}
	for {
		key, err := r.masterKey(ctx)
		if err != nil {
			return err
		}
		done, err := r.batch(ctx, key, total)
		clear(key)
		if err != nil || done {
			return err
		}
	}
}

// sealedEntry is an entry's sealed body as the reindex reads it.
type sealedEntry struct {
	id          string
	source      string
	bodyVersion int
	body        entrybody.Sealed
}

// batch indexes the next batch and reports whether it was the last.
func (r *rebuild) batch(ctx context.Context, masterKey []byte, total int) (bool, error) {
	entries, err := nextEntries(ctx, r.f.db, r.data.UserID, r.after, r.f.cfg.BatchSize)
	if err != nil || len(entries) == 0 {
		return true, err
	}
	k, err := blindindex.NewKey(masterKey, r.data.UserID)
	if err != nil {
		return false, err
	}
	defer k.Wipe()
	// Decrypt and tokenise before the transaction, to keep it short.
	type made struct {
		e      sealedEntry
		tokens blindindex.Vector
	}
	var todo []made
	unreadable := 0
	for _, e := range entries {
		title, content, err := entrybody.Open(masterKey, r.data.UserID, e.id, e.bodyVersion, e.body)
		if err != nil {
			// Its integrity check failed: the id only, never any of it.
			r.logger.Warn("reindex skipped an entry that failed its integrity check", "entry_id", e.id)
			unreadable++
			continue
		}
		todo = append(todo, made{e: e, tokens: k.Vector(blindindex.OriginOf(e.source), title, content)})
	}
	last := entries[len(entries)-1].id
	indexed := r.indexed + len(todo)
	unreadable += r.unreadable
	err = store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		for _, m := range todo {
			if err := blindindex.Put(ctx, tx, r.data.UserID, m.e.id, m.e.bodyVersion, m.tokens); err != nil {
				return err
			}
		}
		percent := 99
		if total > 0 {
			percent = min(99, (indexed+unreadable)*100/total)
		}
		return job.Progress(ctx, tx, r.data.JobID, percent,
			map[string]any{resultIndexed: indexed, resultUnreadable: unreadable, resultAfter: last})
	})
	if err != nil {
		return false, err
	}
	r.after, r.indexed, r.unreadable = &last, indexed, unreadable
	return len(entries) < r.f.cfg.BatchSize, nil
}

// indexable selects the entries whose text is sealed under the master key: every uce
// entry, deleted ones too (a restore finds them again), but not content still held for
// the user in another form (content_ct NULL).
const indexable = `user_id = $1 AND content_ct IS NOT NULL`

func countEntries(ctx context.Context, db store.DBTX, userID string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM entries WHERE `+indexable, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("indexer: count entries: %w", store.Translate(err))
	}
	return n, nil
}

// nextEntries reads up to limit of the user's entries after the id, in id order.
func nextEntries(ctx context.Context, db store.DBTX, userID string, after *string, limit int) ([]sealedEntry, error) {
	rows, err := db.Query(ctx, `
		SELECT id, source, body_version, title_ct, content_ct FROM entries
		WHERE `+indexable+` AND ($2::uuid IS NULL OR id > $2)
		ORDER BY id LIMIT $3`, userID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("indexer: read entries: %w", store.Translate(err))
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (sealedEntry, error) {
		var e sealedEntry
		err := row.Scan(&e.id, &e.source, &e.bodyVersion, &e.body.Title, &e.body.Content)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("indexer: read entries: %w", store.Translate(err))
	}
	return list, nil
}
