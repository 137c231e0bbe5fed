package entries

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// The encryption tiers.
const (
	tierUCE = "uce"
	tierE2E = "e2e"
)

// emitTimeout bounds the entry.changed emit after a write: the write has committed, and a
// Broker that is away must not hold the user's answer for long.
const emitTimeout = 2 * time.Second

// api holds what the handlers need.
type api struct {
	db       *pgxpool.Pool
	sessions *session.Store
	emitter  *eventing.Emitter
	// retention is how long a deleted entry can be restored.
	retention time.Duration
	// idempotencyTTL is how long an Idempotency-Key is honoured.
	idempotencyTTL time.Duration
	// pageMaxBytes bounds the stored bytes of a list or feed page (ENTRY_PAGE_MAX_BYTES).
	pageMaxBytes int64
}

// errSessionKeyUnavailable answers a uce request whose session holds no master key: the
// server cannot encrypt or decrypt for it until the user logs in again.
var errSessionKeyUnavailable = httpapi.NewError(http.StatusUnauthorized, "session_key_unavailable",
	"this session holds no encryption key; log in again")

// errEntryUnreadable is the answer for an entry that failed its integrity check. It tells
// the client what happened without any of the entry.
var errEntryUnreadable = httpapi.NewError(http.StatusInternalServerError, "entry_unreadable",
	"an entry failed its integrity check and cannot be shown")

// caller is the authenticated user of a request, with the uce master key for the
// request's duration.
type caller struct {
	userID string
	tier   string
	key    []byte // uce only
}

// callerOf returns the request's caller. A uce caller gets its master key from the
// session; one whose session holds none is answered 401 session_key_unavailable.
func (a *api) callerOf(r *http.Request, needKey bool) (caller, error) {
	p, ok := httpapi.PrincipalFrom(r.Context())
	if !ok {
		return caller{}, httpapi.ErrUnauthorized
	}
	c := caller{userID: p.UserID, tier: p.Tier}
	switch p.Tier {
	case tierE2E:
	case tierUCE:
		if !needKey {
			break
		}
		key, err := a.sessions.MasterKey(p.Session)
		if errors.Is(err, session.ErrNoMasterKey) {
			return caller{}, errSessionKeyUnavailable
		}
		if err != nil {
			return caller{}, fmt.Errorf("entries: master key: %w", err)
		}
		c.key = key
	default:
		return caller{}, httpapi.ErrUnauthorized
	}
	return c, nil
}

// wipe clears the master key once the request is done with it.
func (c caller) wipe() {
	clear(c.key)
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
// user's updated_at never goes backwards.
func (a *api) write(ctx context.Context, userID string, fn func(tx pgx.Tx, at time.Time) error) error {
	return store.Transact(ctx, a.db, func(tx pgx.Tx) error {
		at, err := userlock.Lock(ctx, tx, userID, userlock.Entries)
		if err != nil {
			return err
		}
		return fn(tx, at)
	})
}

// snapshot runs fn in a read-only transaction that sees one snapshot of the database.
func (a *api) snapshot(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, a.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	if err != nil {
		return store.Translate(err)
	}
	return nil
}

// emitChanged tells the Broker that an entry changed: ids, the kind of change and the new
// version, never content. The write has committed, so a failure is only logged.
func (a *api) emitChanged(r *http.Request, userID, entryID, change string, version int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), emitTimeout)
	defer cancel()
	a.emitter.EmitLogged(ctx, httpapi.Logger(r.Context()), eventing.TypeEntryChanged, eventing.SourceEntries, entryID,
		eventing.EntryChanged{UserID: userID, EntryID: entryID, Change: change, Version: version})
}

// unreadable is the answer for the entry id that failed its integrity check (err):
// entry_unreadable, with the id (never any of the entry) and err for the log.
func unreadable(id string, err error) error {
	return errEntryUnreadable.Wrap(fmt.Errorf("entries: entry %s: %w", id, err))
}
