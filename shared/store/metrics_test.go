package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/store"
)

// TestTranslateCountsDatabaseErrorsOnce: a failure of the database is counted in
// diary_db_errors_total once, however many layers translate it; answers about the data
// (no row, a conflict) and the caller's own cancellation are not failures.
func TestTranslateCountsDatabaseErrorsOnce(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		class string // "" = not counted
	}{
		{"shutdown", &pgconn.PgError{Code: "57P01"}, "unavailable"},
		{"too many connections", &pgconn.PgError{Code: "53300"}, "unavailable"},
		{"syntax error", &pgconn.PgError{Code: "42601"}, "error"},
		{"no rows", pgx.ErrNoRows, ""},
		{"unique violation", &pgconn.PgError{Code: "23505"}, ""},
		{"canceled", context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unavailable := testutil.ToFloat64(metrics.DBErrors.WithLabelValues("unavailable"))
			other := testutil.ToFloat64(metrics.DBErrors.WithLabelValues("error"))
			err := store.Translate(fmt.Errorf("inner: %w", tt.err))
			err = store.Translate(fmt.Errorf("outer: %w", err))
			if !errors.Is(err, tt.err) {
				t.Errorf("Translate lost the cause: %v", err)
			}
			gotU := testutil.ToFloat64(metrics.DBErrors.WithLabelValues("unavailable")) - unavailable
			gotE := testutil.ToFloat64(metrics.DBErrors.WithLabelValues("error")) - other
			wantU, wantE := 0.0, 0.0
			switch tt.class {
			case "unavailable":
				wantU = 1
			case "error":
				wantE = 1
			}
			if gotU != wantU || gotE != wantE {
				t.Errorf("Translate twice counted unavailable %v, error %v; want %v, %v", gotU, gotE, wantU, wantE)
			}
		})
	}
}
