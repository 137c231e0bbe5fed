// Package migrations owns the database schema: the numbered goose SQL files in
// this directory, embedded into the binary, and the code that applies them.
//
// Migrations are applied by scripts/migrate (locally and in CI) and by the
// Kubernetes migration Job before a rollout, never at function cold start.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the goose SQL migrations (NNNN_name.sql with -- +goose Up / Down
// annotations) that define the schema.
//
//go:embed *.sql
var FS embed.FS

// Up applies every pending migration in FS to the database at databaseURL.
// A PostgreSQL session-level advisory lock serialises concurrent runs, so two
// deployments migrating at once cannot race; a run with nothing pending
// changes nothing.
func Up(ctx context.Context, databaseURL string) error {
	_, err := Apply(ctx, databaseURL, nil)
	return err
}

// Apply is Up that also reports each migration it applied, in order. When
// logger is not nil, goose logs its progress there.
func Apply(ctx context.Context, databaseURL string, logger *slog.Logger) (applied []*goose.MigrationResult, err error) {
	err = withProvider(ctx, databaseURL, logger, func(p *goose.Provider) error {
		applied, err = p.Up(ctx)
		return err
	})
	if err != nil {
		return applied, fmt.Errorf("migrations: up: %w", err)
	}
	return applied, nil
}

// Status reports every migration in FS and whether it has been applied.
func Status(ctx context.Context, databaseURL string) (status []*goose.MigrationStatus, err error) {
	err = withProvider(ctx, databaseURL, nil, func(p *goose.Provider) error {
		status, err = p.Status(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrations: status: %w", err)
	}
	return status, nil
}

func withProvider(ctx context.Context, databaseURL string, logger *slog.Logger, run func(*goose.Provider) error) error {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}

	// Retry the advisory lock every second for up to five minutes: a second
	// runner waits for the first instead of failing or racing it.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("session locker: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS, opts...)
	if err != nil {
		return fmt.Errorf("new provider: %w", err)
	}
	return run(p)
}
