// Command migrate applies the embedded schema migrations to the database
// named by DATABASE_URL (or -database-url).
//
//	migrate          apply every pending migration (the default)
//	migrate up       the same
//	migrate status   list the migrations and when each was applied
//
// It is what scripts/migrate runs locally and what the migration Job runs in
// the cluster. Concurrent runs are serialised by an advisory lock, and a run
// with nothing pending changes nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xmojo/diary/migrations"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "migrate: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	databaseURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	verbose := flag.Bool("v", false, "log goose's progress")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: migrate [flags] [up|status]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *databaseURL == "" {
		return fmt.Errorf("DATABASE_URL is not set (or pass -database-url)")
	}
	command := "up"
	switch flag.NArg() {
	case 0:
	case 1:
		command = flag.Arg(0)
	default:
		flag.Usage()
		return fmt.Errorf("too many arguments")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	switch command {
	case "up":
		var logger *slog.Logger
		if *verbose {
			logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		applied, err := migrations.Apply(ctx, *databaseURL, logger)
		for _, r := range applied {
			fmt.Println(r)
		}
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Println("migrate: schema is up to date")
		} else {
			fmt.Printf("migrate: applied %d migration(s)\n", len(applied))
		}
		return nil
	case "status":
		status, err := migrations.Status(ctx, *databaseURL)
		if err != nil {
			return err
		}
		for _, s := range status {
			applied := "pending"
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Printf("%-25s %s\n", applied, s.Source.Path)
		}
		return nil
	default:
		flag.Usage()
		return fmt.Errorf("unknown command %q", command)
	}
}
