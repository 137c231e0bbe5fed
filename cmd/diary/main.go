// Command diary runs the whole API in one process for local development: the gateway
// function with every group in-process, on 127.0.0.1:$PORT (8080 by default). scripts/dev
// starts it after exporting the settings in .dev/env. It stops gracefully on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/shared/host"
)

func main() {
	env := host.Environ()
	slog.SetDefault(newLogger(env))
	if err := run(env); err != nil {
		slog.Error("diary stopped", "error", err.Error())
		os.Exit(1)
	}
}

// newLogger logs JSON to stdout when LOG_FORMAT=json or under CI, as the functions do in
// the cluster; otherwise readable text to stderr.
func newLogger(env map[string]string) *slog.Logger {
	level := slog.LevelInfo
	if env["LOG_LEVEL"] == "debug" {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if env["LOG_FORMAT"] == "json" || (env["LOG_FORMAT"] == "" && env["CI"] != "") {
		return slog.New(slog.NewJSONHandler(os.Stdout, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func run(env map[string]string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	port := env["PORT"]
	if port == "" {
		port = "8080"
	}
	addr := net.JoinHostPort("127.0.0.1", port)

	gateway, err := host.New(diary.New())
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = gateway.Start(startCtx, env)
	cancel()
	if err != nil {
		// Locally there is no readiness probe to report it: fail at once, naming the setting.
		return fmt.Errorf("start: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", gateway)
	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = gateway.Stop(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("diary listening", "url", "http://"+addr, "openapi", "http://"+addr+"/api/v1/openapi.json")

	select {
	case err := <-errc:
		_ = gateway.Stop(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills the process at once
	slog.Info("diary shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	if err := gateway.Stop(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop: %w", err))
	}
	return errors.Join(errs...)
}
