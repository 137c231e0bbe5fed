// Command diary runs the whole API in one process for local development: the gateway
// function with every group in-process, on 127.0.0.1:$PORT (8080 by default), its metrics
// on 127.0.0.1:9464 (METRICS_ADDRESS), and the local stand-in for Knative Eventing
// (eventing/local): a Broker ingress at /_local/broker that in-process producers reach
// through K_SINK, delivery to the CloudEvents functions the project's Triggers subscribe,
// and the PingSource schedules. scripts/dev starts it after exporting the settings in
// .dev/env. It stops gracefully on SIGINT or SIGTERM. The gateway reads its own settings
// from the same environment: CORS_ALLOWED_ORIGINS (empty: no browser client of another
// origin) is how a local web client on, say, http://127.0.0.1:5173 is let in.
//
// Two dev-only settings, for scripts/chaos, exist here and nowhere in the cluster:
// LOCAL_BROKER_CONTROL=1 mounts /_local/broker/control, with which a loopback client pauses
// the Broker ingress (503 while paused) and resumes it; LOCAL_BROKER_TAP=FILE appends every
// event the ingress accepted to FILE, one JSON line each (devbroker.go).
//
// It is a module of its own and the only code that imports every function: the gateway
// (the repository root) imports none. With -write-openapi FILE it writes the gateway's
// OpenAPI document, merged from the functions' fragments, to FILE and exits (`go generate`
// at the root runs it that way to refresh openapi.json).
//
// With -function NAME it serves that one function alone (a group such as entries, or a
// CloudEvents subscriber such as janitor) with shared/host, as a function runs outside the
// cluster: on LISTEN_ADDRESS (else 127.0.0.1:$PORT), with its own METRICS_ADDRESS, and no
// gateway, Broker or other function in the process. scripts/slowclients serves entries
// that way.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/httpapi"
)

// brokerPath is where the local Broker ingress listens; K_SINK points at it.
const brokerPath = "/_local/broker"

// defaultMetricsAddress keeps the local metrics on loopback.
const defaultMetricsAddress = "127.0.0.1:9464"

func main() {
	openAPIFile := flag.String("write-openapi", "", "write the merged OpenAPI document to this file and exit")
	function := flag.String("function", "", "serve only this function, with shared/host")
	flag.Parse()
	if *openAPIFile != "" {
		if err := writeOpenAPI(*openAPIFile); err != nil {
			fmt.Fprintln(os.Stderr, "diary:", err)
			os.Exit(1)
		}
		return
	}
	env := host.Environ()
	slog.SetDefault(newLogger(env))
	if *function != "" {
		if err := serveFunction(*function); err != nil {
			slog.Error("diary stopped", "function", *function, "error", err.Error())
			os.Exit(1)
		}
		return
	}
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

	// In-process producers send their events to the local Broker ingress.
	env["K_SINK"] = "http://" + addr + brokerPath
	if env["METRICS_ADDRESS"] == "" {
		env["METRICS_ADDRESS"] = defaultMetricsAddress
	}

	limits, err := httpapi.LoadServerLimits(env)
	if err != nil {
		return err
	}

	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var hosts []*host.Host
	stopAll := func(ctx context.Context) error {
		var errs []error
		for _, h := range hosts {
			if err := h.Stop(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	handlers := map[string]http.Handler{}
	for name, fn := range subscribers() {
		h, err := host.New(fn)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		// This process's shared metrics registry is served by the gateway's listener: a
		// subscriber must not open a second one on the same address.
		subEnv := maps.Clone(env)
		delete(subEnv, "METRICS_ADDRESS")
		if err := h.Start(startCtx, subEnv); err != nil {
			_ = stopAll(context.Background())
			return fmt.Errorf("start %s: %w", name, err)
		}
		hosts = append(hosts, h)
		handlers[name] = h
	}
	gw := diary.NewInProcess(groupFunctions())
	gateway, err := host.New(gw)
	if err != nil {
		_ = stopAll(context.Background())
		return fmt.Errorf("diary: %w", err)
	}
	if err := gateway.Start(startCtx, env); err != nil {
		// Locally there is no readiness probe to report it: fail at once, naming the setting.
		_ = stopAll(context.Background())
		return fmt.Errorf("start: %w", err)
	}
	hosts = append(hosts, gateway)
	cancel()

	manifests, err := local.Load(eventing.Manifests)
	if err != nil {
		_ = stopAll(context.Background())
		return fmt.Errorf("eventing manifests: %w", err)
	}
	lb, err := newLocalBroker(env, manifests, handlers)
	if err != nil {
		_ = stopAll(context.Background())
		return fmt.Errorf("local broker: %w", err)
	}
	broker := lb.router

	mux := http.NewServeMux()
	lb.mount(mux)
	mux.Handle("/", gateway)
	srv := newServer(addr, mux, limits)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		lb.Close()
		_ = stopAll(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	schedules, stopSchedules := context.WithCancel(ctx)
	defer stopSchedules()
	go broker.RunSchedules(schedules)
	if a := env["PPROF_ADDRESS"]; a != "" {
		go servePprof(a, limits)
	}
	slog.Info("diary listening", "url", "http://"+addr, "openapi", "http://"+addr+"/api/v1/openapi.json",
		"metrics", "http://"+gw.MetricsAddress()+"/metrics", "broker", env["K_SINK"], "ping_sources", broker.PingSources(),
		"docs", "http://"+addr+"/api/v1/docs", "cors_allowed_origins", env["CORS_ALLOWED_ORIGINS"])

	select {
	case err := <-errc:
		lb.Close()
		_ = stopAll(context.Background())
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
	// Events already accepted are delivered before the functions stop.
	stopSchedules()
	if err := broker.Drain(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("drain events: %w", err))
	}
	lb.Close()
	if err := stopAll(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop: %w", err))
	}
	return errors.Join(errs...)
}

// serveFunction serves the function called name alone until SIGINT or SIGTERM.
func serveFunction(name string) error {
	if g, ok := groupTable[name]; ok {
		return host.Run(g.newFunction())
	}
	if fn, ok := subscribers()[name]; ok {
		return host.Run(fn)
	}
	return fmt.Errorf("no function %q", name)
}

// newServer is the server the API listens with: the project's read and write timeouts and
// the connection limits of the HTTP_* variables (httpapi.LoadServerLimits), as every
// function's host has.
func newServer(addr string, h http.Handler, limits httpapi.ServerLimits) *http.Server {
	return limits.NewServer(addr, h)
}

// servePprof serves Go's profiler on addr (PPROF_ADDRESS, for load tests such as
// scripts/bench; unset, none is served); it is never mounted on the API's own listener,
// and an address off loopback is refused: profiles show what the process holds.
func servePprof(addr string, limits httpapi.ServerLimits) {
	if !loopbackAddress(addr) {
		slog.Error("pprof not started: PPROF_ADDRESS must be a loopback host:port, such as 127.0.0.1:6061")
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := newServer(addr, mux, limits)
	slog.Info("pprof listening", "address", addr)
	if err := srv.ListenAndServe(); err != nil {
		slog.Error("pprof stopped", "error", err.Error())
	}
}

// loopbackAddress reports whether addr is host:port with a loopback IP or localhost.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
