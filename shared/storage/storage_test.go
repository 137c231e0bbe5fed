package storage_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

func TestUsage(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u, other, empty := testenv.NewUser(t, svc, "e2e"), testenv.NewUser(t, svc, "uce"), testenv.NewUser(t, svc, "e2e")
	shared := "u/" + u.ID + "/" + uuid.NewString()
	testenv.InsertMedia(t, svc,
		testenv.Media{UserID: u.ID, Size: 1000, Status: "ready"},
		testenv.Media{UserID: u.ID, Size: 234, Status: "pending"},
		testenv.Media{UserID: u.ID, Size: 50_000, Status: "pending", Expired: true}, // counts until removed
		testenv.Media{UserID: u.ID, Size: 7_000, Status: "ready", Deleted: true},
		testenv.Media{UserID: u.ID, ObjectKey: shared, Size: 600_000, Status: "ready"},
		testenv.Media{UserID: u.ID, ObjectKey: shared, Size: 600_000, Status: "ready"}, // deduplicated: once
		testenv.Media{UserID: other.ID, Size: 9_999, Status: "ready"},
	)
	tests := []struct {
		name   string
		userID string
		want   int64
	}{
		{"own undeleted ready and pending, a shared object once", u.ID, 1000 + 234 + 50_000 + 600_000},
		{"another user's media only", other.ID, 9_999},
		{"no media", empty.ID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := storage.Usage(ctx, svc.DB, tt.userID)
			if err != nil || got != tt.want {
				t.Errorf("Usage() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestQuotaCheck(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u := testenv.NewUser(t, svc, "e2e")
	testenv.InsertMedia(t, svc, testenv.Media{UserID: u.ID, Size: 600, Status: "ready"}, testenv.Media{UserID: u.ID, Size: 300, Status: "pending"})
	q := storage.Quota{QuotaBytes: 1000}
	tests := []struct {
		name string
		size int64
		want error
	}{
		{"up to the quota exactly", 100, nil},
		{"one byte past it", 101, storage.ErrQuotaExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, svc.DB, func(tx pgx.Tx) error {
				return q.Check(ctx, tx, u.ID, tt.size)
			})
			if !errors.Is(err, tt.want) {
				t.Errorf("Check(%d bytes, 900 used, quota 1000) = %v, want %v", tt.size, err, tt.want)
			}
		})
	}
}

// TestQuotaCheckHoldsTheMediaLock: what Check counted cannot change under a concurrent
// upload of the same user until the checking transaction ends.
func TestQuotaCheckHoldsTheMediaLock(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u := testenv.NewUser(t, svc, "e2e")
	tx, err := svc.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // test cleanup
	if err := (storage.Quota{QuotaBytes: 1000}).Check(ctx, tx, u.ID, 1); err != nil {
		t.Fatalf("Check() = %v", err)
	}

	other, err := svc.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx) //nolint:errcheck // test cleanup
	if _, err := other.Exec(ctx, `SET LOCAL lock_timeout = '1ms'`); err != nil {
		t.Fatal(err)
	}
	_, err = userlock.Lock(ctx, other, u.ID, userlock.Media)
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Errorf("Lock(Media) in another transaction after Check = %v, want SQLSTATE 55P03 (it waits)", err)
	}
}

func TestQuotaConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    int64
		wantErr bool
	}{
		{"default", map[string]string{}, 1 << 30, false},
		{"set", map[string]string{"STORAGE_QUOTA_BYTES": "5000"}, 5000, false},
		{"zero", map[string]string{"STORAGE_QUOTA_BYTES": "0"}, 0, true},
		{"negative", map[string]string{"STORAGE_QUOTA_BYTES": "-1"}, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Embedded, as a function's config holds it.
			var cfg struct{ storage.Quota }
			if err := config.Load(tt.env, &cfg); err != nil {
				t.Fatalf("config.Load(%v) = %v", tt.env, err)
			}
			err := cfg.Validate()
			if cfg.QuotaBytes != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Load(%v) = %d, Validate() = %v; want %d, error %v", tt.env, cfg.QuotaBytes, err, tt.want, tt.wantErr)
			}
		})
	}
}
