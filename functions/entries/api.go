package entries

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// The encryption tiers.
const (
	tierUCE = "uce"
	tierE2E = "e2e"
)

// api holds what the handlers need.
type api struct {
	db *pgxpool.Pool
	// relay sends the entry.changed events each write adds to the outbox; a write wakes
	// it after its commit and never waits for it.
	relay *outbox.Relay
	// retention is how long a deleted entry can be restored.
	retention time.Duration
	// idempotencyTTL is how long an Idempotency-Key is honoured.
	idempotencyTTL time.Duration
	// pageMaxBytes bounds the stored bytes of a list or feed page (ENTRY_PAGE_MAX_BYTES).
	pageMaxBytes int64
	// pending tells whether a uce caller has intake boxes to redeem (shared/intake).
	pending *intake.Pending
	// redeemBatch bounds the boxes one request redeems (INTAKE_REDEEM_BATCH).
	redeemBatch int
}

// errEntryUnreadable is the answer for an entry that failed its integrity check. It tells
// the client what happened without any of the entry.
var errEntryUnreadable = httpapi.NewError(http.StatusInternalServerError, "entry_unreadable",
	"an entry failed its integrity check and cannot be shown")

// caller is the request's httpapi.Caller as the handlers use it: the user and tier, and
// for uce, when the handler encrypts or decrypts, the master key, which Authenticate wipes
// when the handler returns.
type caller struct {
	userID string
	tier   string
	key    []byte // uce only
}

// callerOf returns the request's caller, with the master key when needKey and the caller
// is uce; a uce session that holds none answers 401 session_key_unavailable, as in every
// function. Every entries request passes here first, so this is where a uce caller's
// pending intake boxes are redeemed, before the handler reads anything.
func (a *api) callerOf(r *http.Request, needKey bool) (caller, error) {
	hc, err := httpapi.CallerOf(r)
	if err != nil {
		return caller{}, err
	}
	c := caller{userID: hc.UserID, tier: hc.Tier}
	if hc.Tier == tierUCE {
		a.redeemPending(r, hc)
	}
	if needKey && hc.Tier == tierUCE {
		if c.key, err = hc.MasterKey(); err != nil {
			return caller{}, err
		}
	}
	return c, nil
}

// entryID returns the {id} path value, or false when it is not a UUID: such an entry
// cannot exist, and the answer is the same 404 as for any entry that is not the caller's.
func entryID(r *http.Request) (string, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return "", false
	}
	return id.String(), true
}

// write runs fn in a transaction holding the user's entry write lock (userlock.Entries),
// with the time of the write: the database clock read once the lock is granted, so a
// user's updated_at never goes backwards. fn records its change with recordChange; once
// the transaction has committed the relay is woken to send the event.
func (a *api) write(ctx context.Context, userID string, fn func(tx pgx.Tx, at time.Time) error) error {
	err := store.Transact(ctx, a.db, func(tx pgx.Tx) error {
		at, err := userlock.Lock(ctx, tx, userID, userlock.Entries)
		if err != nil {
			return err
		}
		return fn(tx, at)
	})
	if err == nil {
		a.relay.Wake()
	}
	return err
}

// snapshot runs fn in a read-only transaction that sees one snapshot of the database.
func (a *api) snapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, a.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	if err != nil {
		return store.Translate(err)
	}
	return nil
}

// unreadable is the answer for the entry id that failed its integrity check (err):
// entry_unreadable, with the id (never any of the entry) and err for the log.
func unreadable(id string, err error) error {
	return errEntryUnreadable.Wrap(fmt.Errorf("entries: entry %s: %w", id, err))
}

// redeemPending re-seals a batch of the uce caller's pending intake boxes under their
// master key (intake.Redeem) when the Pending marker says there are any, and writes
// entry.changed for each in the redemption's transaction. The marker costs one Redis EXISTS a request; a user with nothing
// pending pays no database query for it (docs/intake.md). It never fails the request: a
// session without a key, Redis or a redemption failing leaves the boxes pending for a
// later request or login, and the failure is logged (ids only).
func (a *api) redeemPending(r *http.Request, hc httpapi.Caller) {
	ctx := r.Context()
	log := httpapi.Logger(ctx)
	has, err := a.pending.Has(ctx, hc.UserID)
	if err != nil {
		log.Warn("intake: pending marker unreadable", "error", err.Error())
		return
	}
	if !has {
		return
	}
	key, err := hc.MasterKey()
	if err != nil {
		return // a keyless session: one with the key redeems
	}
	defer clear(key)
	// Each redeemed body is indexed for search in its redemption's transaction, so a
	// delivered entry is searchable as soon as it is readable, and its entry.changed is
	// written there too.
	index := blindindex.OnOpen(key, hc.UserID)
	onOpen := func(ctx context.Context, tx pgx.Tx, entryID string, body intake.Body) error {
		if err := index(ctx, tx, entryID, body); err != nil {
			return err
		}
		// The version the redemption has just given the entry, in tx.
		var version int
		if err := tx.QueryRow(ctx, `SELECT version FROM entries WHERE id = $1 AND user_id = $2`, entryID, hc.UserID).Scan(&version); err != nil {
			return fmt.Errorf("entries: redeemed entry's version: %w", store.Translate(err))
		}
		return addChanged(ctx, tx, hc.UserID, entryID, changeUpdated, version)
	}
	red, err := intake.Redeem(ctx, a.db, a.pending, hc.UserID, key, a.redeemBatch, onOpen)
	if err != nil {
		log.Error("intake: redeem pending entries", "error", err.Error())
		return
	}
	if len(red.Entries) > 0 {
		a.relay.Wake()
		log.Info("intake: redeemed pending entries", "count", len(red.Entries), "more", red.More)
	}
}
