package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

func TestTranslate(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	u := testenv.NewUser(t, svc, "e2e")
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"no rows", func() error {
			var id string
			return svc.DB.QueryRow(ctx, `SELECT id FROM users WHERE id = $1`, uuid.NewString()).Scan(&id)
		}, store.ErrNotFound},
		{"unique violation", func() error {
			_, err := svc.DB.Exec(ctx, `INSERT INTO users (id, email, password_hash, encryption_tier, public_key)
				VALUES ($1, $2, 'x', 'e2e', $3)`, uuid.NewString(), u.Email, u.PublicKey)
			return err
		}, store.ErrConflict},
		{"server out of reach", func() error {
			conn, err := pgx.Connect(ctx, "postgres://diary@127.0.0.1:1/diary?connect_timeout=5") // nothing listens on port 1
			if err == nil {
				conn.Close(ctx)
			}
			return err
		}, outage.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := store.Translate(fmt.Errorf("op: %w", tt.run()))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Translate(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	if !store.IsUniqueViolation(tests[1].run(), "users_email_key") {
		t.Errorf("IsUniqueViolation(users_email_key) = false, want true")
	}
	if _, err := store.Open(ctx, "postgres://diary@127.0.0.1:1/diary?connect_timeout=5"); !errors.Is(err, outage.ErrUnavailable) {
		t.Errorf("Open(a server out of reach) = %v, want outage.ErrUnavailable", err)
	}
}

func TestTransactRollsBackOnError(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	id := uuid.NewString()
	email := "tx-" + id[:8] + "@example.test"
	boom := errors.New("boom")
	err := store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, password_hash, encryption_tier, public_key)
			VALUES ($1, $2, 'x', 'e2e', $3)`, id, email, make([]byte, 32)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Transact() = %v, want boom", err)
	}
	var n int
	if err := svc.DB.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after rollback = %d, %v, want 0", n, err)
	}
	err = store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id, email, password_hash, encryption_tier, public_key)
			VALUES ($1, $2, 'x', 'e2e', $3)`, id, email, make([]byte, 32))
		return err
	})
	if err != nil {
		t.Fatalf("Transact() = %v, want nil", err)
	}
	if err := svc.DB.QueryRow(ctx, `SELECT count(*) FROM users WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after commit = %d, %v, want 1", n, err)
	}
}
