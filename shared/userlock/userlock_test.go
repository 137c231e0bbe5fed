package userlock_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

// Fixed ids whose hashtext differs (checked below), so "two users do not block each
// other" cannot fail by a chance collision of their lock keys.
const (
	userA = "0b6f5a0e-6a51-4c63-9d44-7d1f0a6f3a01"
	userB = "0b6f5a0e-6a51-4c63-9d44-7d1f0a6f3a02"
)

// lockNotAvailable is the SQLSTATE of a lock wait cut short by lock_timeout.
const lockNotAvailable = "55P03"

// begin opens a transaction the test rolls back at its end.
func begin(t *testing.T, db *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := db.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin() = %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) }) //nolint:errcheck // a no-op once ended
	return tx
}

// beginImpatient opens a transaction whose lock waits fail at once: a lock it gets was
// free, a lock it does not get was held, whatever the machine's load.
func beginImpatient(t *testing.T, db *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx := begin(t, db)
	if _, err := tx.Exec(t.Context(), `SET LOCAL lock_timeout = '1ms'`); err != nil {
		t.Fatalf("SET lock_timeout: %v", err)
	}
	return tx
}

func isLockNotAvailable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable
}

func TestLockBlocksOnlyTheSameUserAndClass(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	var sameHash bool
	if err := svc.DB.QueryRow(ctx, `SELECT hashtext($1) = hashtext($2)`, userA, userB).Scan(&sameHash); err != nil || sameHash {
		t.Fatalf("hashtext(userA) = hashtext(userB): %v (%v); pick other fixed ids", sameHash, err)
	}
	holder := begin(t, svc.DB)
	if _, err := userlock.Lock(ctx, holder, userA, userlock.Entries); err != nil {
		t.Fatalf("Lock(userA, Entries) = %v", err)
	}
	if _, err := userlock.Lock(ctx, holder, userA, userlock.Entries); err != nil {
		t.Errorf("Lock(userA, Entries) again in the same transaction = %v, want nil (re-entrant)", err)
	}

	tests := []struct {
		name    string
		userID  string
		class   userlock.Class
		blocked bool
	}{
		{"same user, same class", userA, userlock.Entries, true},
		{"same user, other class", userA, userlock.Media, false},
		{"other user, same class", userB, userlock.Entries, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := userlock.Lock(ctx, beginImpatient(t, svc.DB), tt.userID, tt.class)
			switch {
			case tt.blocked && !isLockNotAvailable(err):
				t.Errorf("Lock(%s) while another transaction holds userA's Entries lock = %v, want SQLSTATE %s (it waits)", tt.class, err, lockNotAvailable)
			case !tt.blocked && err != nil:
				t.Errorf("Lock(%s) while another transaction holds userA's Entries lock = %v, want nil (no wait)", tt.class, err)
			}
		})
	}
}

// TestLockSerialisesTransactions: a second transaction of the same user and class is
// granted the lock only once the first ends, and Waiting sees it wait meanwhile.
func TestLockSerialisesTransactions(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	user := uuid.NewString()
	first := begin(t, svc.DB)
	firstAt, err := userlock.Lock(ctx, first, user, userlock.Media)
	if err != nil {
		t.Fatalf("Lock() = %v", err)
	}

	var ended atomic.Bool
	type result struct {
		at    time.Time
		ended bool
		err   error
	}
	done := make(chan result, 1)
	second := begin(t, svc.DB)
	go func() {
		at, err := userlock.Lock(ctx, second, user, userlock.Media)
		done <- result{at: at, ended: ended.Load(), err: err}
	}()
	for {
		n, err := userlock.Waiting(ctx, svc.DB, user, userlock.Media)
		if err != nil {
			t.Fatalf("Waiting() = %v", err)
		}
		if n > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("second Lock() = %v while the first transaction held the lock, want it to wait", r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	ended.Store(true)
	if err := first.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	r := <-done
	switch {
	case r.err != nil:
		t.Fatalf("second Lock() = %v", r.err)
	case !r.ended:
		t.Errorf("second Lock() returned while the first transaction held the lock")
	case r.at.Before(firstAt):
		t.Errorf("second Lock() = %v, before the first's %v: the clock is read before the lock", r.at, firstAt)
	}
}

// TestEntriesClassIsTheChangeSeqTriggersLock: the trigger that draws an entry's
// change_seq takes the Entries lock, so a writer's Lock orders every entry write of the
// user, and an entry write waits for a janitor or an entries transaction holding it.
func TestEntriesClassIsTheChangeSeqTriggersLock(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u := testenv.NewUser(t, svc, "e2e")
	holder := begin(t, svc.DB)
	if _, err := userlock.Lock(ctx, holder, u.ID, userlock.Entries); err != nil {
		t.Fatalf("Lock() = %v", err)
	}
	_, err := beginImpatient(t, svc.DB).Exec(ctx, `
		INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, content_bytes)
		VALUES ($1, $2, '\x00', 1, now(), now(), now(), 1)`, uuid.NewString(), u.ID)
	if !isLockNotAvailable(err) {
		t.Errorf("INSERT INTO entries while another transaction holds the user's Entries lock = %v, want SQLSTATE %s (the trigger waits for it)", err, lockNotAvailable)
	}
}
