// Package store owns the connection to PostgreSQL: the pool, the transaction helper and
// the translation of driver errors into the project's sentinel errors, done once here so
// no handler ever inspects a pgx error.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/outage"
)

// ErrNotFound is returned when a row does not exist or is not the caller's.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write violates a uniqueness or exclusion constraint.
var ErrConflict = errors.New("store: conflict")

// DBTX is what a query needs: satisfied by *pgxpool.Pool, *pgxpool.Conn and pgx.Tx, so one
// method runs on the pool or inside a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects a pool to databaseURL and checks that it answers.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The URL may hold a password: never echo it.
		return nil, errors.New("store: open: DATABASE_URL is not a valid PostgreSQL URL")
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open: %w: %w", outage.ErrUnavailable, err)
	}
	return pool, nil
}

// Transact runs fn in a transaction that commits when fn returns nil and rolls back
// otherwise, in exactly one place.
func Transact(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return Translate(fmt.Errorf("store: begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return Translate(fmt.Errorf("store: commit: %w", err))
	}
	return nil
}

// Translate maps driver errors to the sentinels above and to outage.ErrUnavailable (the
// server is shutting down, out of connections or unreachable), keeping the original in the
// chain for logs. Errors that are already sentinels, or unknown, pass through unchanged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var seen *failed
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.As(err, &seen) {
		return err
	}
	if errors.Is(err, outage.ErrUnavailable) {
		return err // another package's outage: not the database's
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "23P01": // unique_violation, exclusion_violation
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case "57P01", "57P02", "57P03", "53300": // shutdown, too many connections
			return count("unavailable", fmt.Errorf("%w: %w", outage.ErrUnavailable, err))
		}
		return count("error", err)
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) {
		return count("unavailable", fmt.Errorf("%w: %w", outage.ErrUnavailable, err))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // the caller's time, not the database
	}
	return count("error", err)
}

// failed marks a database error counted in metrics.DBErrors, so that translating it
// again (each layer may) does not count it twice. It changes neither the message nor
// what errors.Is and errors.As find.
type failed struct{ error }

func (f *failed) Unwrap() error { return f.error }

// count records err in metrics.DBErrors under class and marks it counted.
func count(class string, err error) error {
	metrics.DBErrors.WithLabelValues(class).Inc()
	return &failed{err}
}

// IsUniqueViolation reports whether err came from the named unique constraint, for the
// rare caller that must tell two constraints apart (an email taken versus an id clash).
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}
