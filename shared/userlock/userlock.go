// Package userlock provides the per-user write lock: a PostgreSQL transaction-level
// advisory lock on one user, in one of a few classes, that serialises one kind of write of
// that user until the transaction ends. Every writer that must not interleave with another
// of the same kind for the same user takes it first, through Lock, so the rule lives here
// and not in each function's SQL (docs/architecture.md, "Per-user locks").
//
// The classes are separate on purpose. Entries orders a user's entry writes, so their
// change_seq commits in order for the sync feed and a janitor purge cannot interleave
// with a restore; Media serialises a user's upload admissions, so two uploads cannot both
// pass the quota check and two deduplications cannot both attach the same object. No
// invariant spans the two, so an upload never waits for an entry save, or for a janitor
// batch purging entries, and back. A transaction that ever needs both takes Entries
// first, then Media.
package userlock

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// Class is a kind of per-user write. Two locks of one user conflict only within one class.
// Its value is the first half of the advisory lock key (the second is hashtext of the user
// id): pg_locks shows it as classid, the user's hash as objid, with objsubid 2.
type Class int32

const (
	// Entries serialises the writes of a user's entries: the entries function's creates,
	// updates, deletes and restores, and the janitor's purge. The trigger that draws an
	// entry's change_seq (migration 0002, entries_assign_change_seq) takes this very key,
	// so the feed's order holds even for a writer that skipped Lock; taking it through Lock
	// first, before touching any row, is what keeps two writers from deadlocking (lock
	// order: user, then rows).
	Entries Class = 1701
	// Media serialises a user's upload admissions in the media function: the quota check
	// (storage.Quota.Check takes it), deduplication and the insert of the new row.
	Media Class = 1702
	// Outbox serialises the transactions that write a user's events to the outbox
	// (eventing/outbox.Add takes it), from the write to the commit, so a user's outbox rows
	// commit in the order of their seq and the relay never sees a later one before an
	// earlier one. Writers take it after any other class (lock order: entries or media,
	// then outbox).
	Outbox Class = 1703
)

// String names the class for errors and logs.
func (c Class) String() string {
	switch c {
	case Entries:
		return "entries"
	case Media:
		return "media"
	case Outbox:
		return "outbox"
	}
	return fmt.Sprintf("class %d", int32(c))
}

// Statement is the SQL Lock runs, with $1 the class and $2 the user id: the lock first,
// then the clock, read once the lock is granted (a materialised CTE is evaluated before
// the query that reads it). It is exported for the pgbench scripts (scripts/bench.d), which
// must run the same statement.
const Statement = `WITH granted AS MATERIALIZED (SELECT pg_advisory_xact_lock($1::int4, hashtext($2::uuid::text)))
SELECT clock_timestamp() AS at FROM granted`

// Lock takes the user's lock of class c in tx, waiting while another transaction holds it,
// and returns the database clock read after it was granted: a time no earlier than that of
// any write of the same class the user committed before, so timestamps taken from it never
// go backwards. The lock is held until tx commits or rolls back; taking it again in the
// same transaction returns at once. Two users whose ids hash alike share a lock: they only
// wait for each other.
func Lock(ctx context.Context, tx pgx.Tx, userID string, c Class) (time.Time, error) {
	var at time.Time
	if err := tx.QueryRow(ctx, Statement, int32(c), userID).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("userlock: lock %s of user: %w", c, store.Translate(err))
	}
	return at, nil
}

// Waiting reports how many transactions are waiting for the user's lock of class c, for
// tests that must act only once a writer is blocked on it (no sleeping and hoping), and
// for diagnostics.
func Waiting(ctx context.Context, db store.DBTX, userID string, c Class) (int, error) {
	var n int
	err := db.QueryRow(ctx, `
		SELECT count(*) FROM pg_locks
		 WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2
		   AND classid = $1::int4::oid AND objid = (hashtext($2::uuid::text)::bigint & 4294967295)::oid`,
		int32(c), userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("userlock: waiting for %s of user: %w", c, store.Translate(err))
	}
	return n, nil
}
