package fbsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// consumer is fbsync's name in processed_events.
const consumer = "fbsync"

const (
	// overlap is how far before the cursor a sync asks for posts again: a post Facebook
	// lists late is still found, and the dedupe drops the ones already imported.
	overlap = time.Hour
	// defaultHoldBack is how long a throttled integration waits when Facebook names no
	// time to regain access.
	defaultHoldBack = 15 * time.Minute
	// errorHoldBack is how long an integration waits after Facebook refused a sync for a
	// reason a retry soon would not change (a missing permission).
	errorHoldBack = 24 * time.Hour
	// sweepBatch is how many integrations an hourly sweep reads at a time.
	sweepBatch = 100
	// lockClass keys the advisory lock that lets one sync of an integration run at a time.
	lockClass = 1710
)

// entryNamespace derives an imported post's entry id from the user, the account and the
// post, so the entry of a post is the same whichever sync imports it.
var entryNamespace = uuid.MustParse("0f4e7a9c-2b7d-4c1e-8f3a-6d5b9e2c1a47")

func entryID(i integration.Integration, postID string) string {
	return uuid.NewSHA1(entryNamespace, []byte(i.UserID+"\x00"+i.Provider+"\x00"+i.ExternalAccountID+"\x00"+postID)).String()
}

// Messages a pull job that could not finish tells the user.
const (
	permissionMessage = "Facebook did not allow reading your posts (the user_posts permission is missing or was removed). Connect Facebook again and allow access to your posts."
	refusedMessage    = "Facebook refused to list your posts. Try again later."
)

// outcome is how one sync ended.
type outcome int

const (
	done        outcome = iota // every new post imported; the cursor moved
	heldBack                   // Facebook asked us to slow down; the next tick goes on
	needsReauth                // the token was refused
	refused                    // Facebook refused the sync for another reason
	busy                       // another sync of the integration is running
)

// pull syncs the integration a user asked a pull of and finishes its job.
func (f *Function) pull(ctx context.Context, logger *slog.Logger, ev event.Event, data eventing.IntegrationPullRequested) error {
	logger = logger.With("integration_id", data.IntegrationID, "job_id", data.JobID)
	handled, err := job.Handled(ctx, f.db, consumer, ev.ID())
	if err != nil {
		return fmt.Errorf("fbsync: %w", err)
	}
	if handled {
		logger.Info("fbsync: pull already handled")
		return nil
	}
	markHandled := func(ctx context.Context, db store.DBTX) error {
		return job.MarkHandled(ctx, db, consumer, ev.ID(), ev.Type())
	}
	i, err := integration.Get(ctx, f.db, data.UserID, data.IntegrationID)
	switch {
	case errors.Is(err, integration.ErrNotFound):
		// Disconnected meanwhile; the disconnect failed the job.
		logger.Info("fbsync: the integration is gone; pull acknowledged")
		return markHandled(ctx, f.db)
	case err != nil:
		return fmt.Errorf("fbsync: %w", err)
	case i.Status != integration.Active:
		if data.JobID != "" {
			if err := job.Fail(ctx, f.db, data.JobID, integration.ReauthMessage); err != nil {
				return fmt.Errorf("fbsync: %w", err)
			}
		}
		return markHandled(ctx, f.db)
	}
	if data.JobID != "" {
		if _, err := job.Start(ctx, f.db, data.UserID, data.JobID); err != nil {
			return fmt.Errorf("fbsync: %w", err)
		}
	}
	out, res, err := f.syncOne(ctx, logger, i, data.JobID, markHandled)
	if err != nil {
		logger.Error("fbsync: pull failed", "error", err.Error())
		return fmt.Errorf("fbsync: pull: %w", err)
	}
	logger.Info("fbsync: pull done", "outcome", out.String(), "imported", res.Imported, "skipped", res.Skipped)
	if out != done && out != busy {
		return markHandled(context.WithoutCancel(ctx), f.db)
	}
	return nil
}

// sweep syncs every active integration that is due, one after the other, within the
// event's time budget. A failure of one integration is logged and the sweep goes on; the
// next tick retries it.
func (f *Function) sweep(ctx context.Context, logger *slog.Logger) error {
	var after string
	synced, failed := 0, 0
	for {
		batch, err := integration.Due(ctx, f.db, integration.Facebook, f.now(), after, sweepBatch)
		if err != nil {
			return fmt.Errorf("fbsync: sweep: %w", err)
		}
		for _, i := range batch {
			after = i.ID
			if ctx.Err() != nil {
				logger.Warn("fbsync: sweep out of time; the next tick goes on", "synced", synced)
				return nil
			}
			out, res, err := f.syncOne(ctx, logger.With("integration_id", i.ID), i, "", nil)
			if err != nil {
				failed++
				logger.Error("fbsync: sync failed", "integration_id", i.ID, "error", err.Error())
				continue
			}
			synced++
			logger.Info("fbsync: synced", "integration_id", i.ID, "outcome", out.String(), "imported", res.Imported, "skipped", res.Skipped)
		}
		if len(batch) < sweepBatch {
			logger.Info("fbsync: sweep done", "synced", synced, "failed", failed)
			return nil
		}
	}
}

func (o outcome) String() string {
	return [...]string{"done", "held_back", "needs_reauth", "refused", "busy"}[o]
}

// syncOne imports the integration's new posts. jobID is the pull's job to report progress
// to ("" for none; the pending job is finished by FinishSync either way). finish, when not
// nil, runs in the transaction that records a completed sync (the event's dedupe row).
// An error is what a retry may fix (Facebook or the database unreachable).
func (f *Function) syncOne(ctx context.Context, logger *slog.Logger, i integration.Integration, jobID string,
	finish func(context.Context, store.DBTX) error) (outcome, integration.SyncResult, error) {
	var res integration.SyncResult
	conn, err := f.db.Acquire(ctx)
	if err != nil {
		return 0, res, fmt.Errorf("acquire connection: %w", store.Translate(err))
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, lockClass, i.ID).Scan(&locked); err != nil {
		return 0, res, fmt.Errorf("lock: %w", store.Translate(err))
	}
	if !locked {
		return busy, res, nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, hashtext($2))`, lockClass, i.ID); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // closing releases the lock
		}
	}()

	token, err := f.tokens.Open(i)
	if err != nil {
		return 0, res, err
	}
	q := facebook.PostsQuery{Limit: f.cfg.PageSize}
	if i.SyncCursor != nil {
		q.Since = i.SyncCursor.Add(-overlap)
	}
	pages := 0
	for {
		page, err := f.fb.Posts(ctx, token, q)
		switch {
		case facebook.TokenInvalid(err):
			logger.Warn("fbsync: Facebook refused the token; the integration needs reauth")
			if err := integration.MarkNeedsReauth(ctx, f.db, i); err != nil {
				return 0, res, err
			}
			return needsReauth, res, nil
		case facebook.Throttled(err):
			return f.holdBack(ctx, logger, i, jobID, page.Usage, res, err)
		case facebook.PermissionDenied(err):
			return f.refuse(ctx, logger, i, permissionMessage, res, err)
		case err != nil:
			var fe *facebook.Error
			if errors.As(err, &fe) {
				return f.refuse(ctx, logger, i, refusedMessage, res, err)
			}
			return 0, res, err
		}
		pages++
		for _, post := range page.Posts {
			if err := f.importPost(ctx, i, post, &res); err != nil {
				return 0, res, err
			}
		}
		if jobID != "" {
			if err := job.Progress(ctx, f.db, jobID, min(90, 10*pages), map[string]any{
				"imported": res.Imported, "skipped": res.Skipped,
			}); err != nil {
				return 0, res, err
			}
		}
		if page.Usage.Percent >= f.cfg.UsageLimit {
			return f.holdBack(ctx, logger, i, jobID, page.Usage, res, nil)
		}
		if page.After == "" {
			break
		}
		q.After = page.After
	}
	err = store.Transact(ctx, f.db, func(tx pgx.Tx) error {
		if err := integration.FinishSync(ctx, tx, i, res); err != nil {
			return err
		}
		if finish != nil {
			return finish(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return 0, res, err
	}
	return done, res, nil
}

// holdBack pauses the integration's sync because Facebook's usage came near its limit
// (usage headers) or it answered a throttling error (cause). The posts imported so far
// stay; the pull's job stays running and says until when, and the first tick after the
// pause goes on and finishes it.
func (f *Function) holdBack(ctx context.Context, logger *slog.Logger, i integration.Integration, jobID string,
	usage facebook.Usage, res integration.SyncResult, cause error) (outcome, integration.SyncResult, error) {
	wait := max(usage.RegainAccess, defaultHoldBack)
	until := f.now().Add(wait).UTC()
	reason := "usage"
	if cause != nil {
		reason = cause.Error()
	}
	logger.Warn("fbsync: Facebook asks us to slow down; the integration waits", "usage_percent", usage.Percent,
		"until", until, "reason", reason)
	if err := integration.HoldBack(ctx, f.db, i, until); err != nil {
		return 0, res, err
	}
	if jobID != "" {
		if err := job.Progress(ctx, f.db, jobID, 50, map[string]any{
			"imported": res.Imported, "skipped": res.Skipped, "waiting_until": until.Format(time.RFC3339),
		}); err != nil {
			return 0, res, err
		}
	}
	return heldBack, res, nil
}

// refuse records a sync Facebook refused for good (for now): the pending pull fails with
// message, and the integration waits a day before the hourly sync tries again.
func (f *Function) refuse(ctx context.Context, logger *slog.Logger, i integration.Integration, message string,
	res integration.SyncResult, cause error) (outcome, integration.SyncResult, error) {
	logger.Warn("fbsync: Facebook refused the sync", "reason", cause.Error())
	err := store.Transact(ctx, f.db, func(tx pgx.Tx) error {
		if err := integration.HoldBack(ctx, tx, i, f.now().Add(errorHoldBack)); err != nil {
			return err
		}
		return integration.FailPending(ctx, tx, i, message)
	})
	if err != nil {
		return 0, res, err
	}
	return refused, res, nil
}

// importPost turns a post into an entry of the user, in one transaction with the post's
// dedupe row: a post imported before (by any sync of the same account) creates nothing.
// A post without text is skipped (nothing to write in a diary), and so is one no entry
// may hold (too long): both are remembered, so they are not tried again.
func (f *Function) importPost(ctx context.Context, i integration.Integration, post facebook.Post, res *integration.SyncResult) error {
	if post.ID == "" {
		return nil
	}
	if !post.CreatedTime.IsZero() && (res.Cursor == nil || post.CreatedTime.After(*res.Cursor)) {
		t := post.CreatedTime.Time
		res.Cursor = &t
	}
	content := post.Message
	if content != "" && post.PermalinkURL != "" {
		content += "\n\n" + post.PermalinkURL
	}
	var delivered *intake.Delivered
	claim := func(tx pgx.Tx) (bool, error) { return integration.ClaimImport(ctx, tx, i, post.ID) }
	err := store.Transact(ctx, f.db, func(tx pgx.Tx) error {
		fresh, err := claim(tx)
		if err != nil || !fresh {
			return err
		}
		if post.Message == "" {
			res.Skipped++
			return nil
		}
		id := entryID(i, post.ID)
		d, err := intake.Deliver(ctx, tx, f.pending, intake.Incoming{
			UserID: i.UserID, EntryID: id, Body: intake.Body{Content: content},
			Source: integration.Facebook, OccurredAt: post.CreatedTime.Time,
		})
		if err != nil {
			return err
		}
		delivered = &d
		if err := integration.LinkImport(ctx, tx, i, post.ID, id); err != nil {
			return err
		}
		// The new entry's entry.changed, in the transaction that delivers it.
		_, err = outbox.Add(ctx, tx, eventing.TypeEntryChanged, eventing.SourceEntries, d.EntryID, d.UserID,
			eventing.EntryChanged{UserID: d.UserID, EntryID: d.EntryID, Change: d.Change, Version: d.Version})
		return err
	})
	if errors.Is(err, intake.ErrInvalid) || errors.Is(err, intake.ErrTooLarge) {
		// Remember the post without an entry, so it is not tried again.
		err = store.Transact(ctx, f.db, func(tx pgx.Tx) error {
			_, err := claim(tx)
			return err
		})
		res.Skipped++
		return err
	}
	if err != nil {
		return err
	}
	if delivered == nil {
		if post.Message != "" {
			res.Skipped++ // imported before
		}
		return nil
	}
	res.Imported++
	f.relay.Wake()
	return nil
}
