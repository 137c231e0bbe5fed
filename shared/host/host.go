// Package host runs a function with knative/func-go's contract, for the local runner and
// the tests (func-go itself cannot be downloaded here). A function is a value with an
// HTTP Handle(w, r) or a CloudEvents Handle(ctx, event.Event) (*event.Event, error), and
// optional Start, Stop, Ready and Alive hooks. The host listens on LISTEN_ADDRESS with the
// project's time limits (httpapi.NewServer; func-go's own server has 30-second ones, which
// httpapi.Observe replaces per request) and the connection limits an operator may set
// (HTTP_READ_HEADER_TIMEOUT, HTTP_IDLE_TIMEOUT, HTTP_MAX_HEADER_BYTES,
// HTTP_MAX_CONNECTIONS: httpapi.LoadServerLimits), answers /health/readiness and /health/liveness
// from Ready and Alive, passes the environment to Start as a map, and calls Stop on SIGINT
// or SIGTERM after draining requests.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// HTTPFunction is func-go's HTTP function shape.
type HTTPFunction interface {
	Handle(http.ResponseWriter, *http.Request)
}

// EventFunction is func-go's CloudEvents function shape.
type EventFunction interface {
	Handle(context.Context, event.Event) (*event.Event, error)
}

// Starter is the optional Start hook; it receives the environment as a map.
type Starter interface {
	Start(ctx context.Context, cfg map[string]string) error
}

// Stopper is the optional Stop hook, called on shutdown.
type Stopper interface {
	Stop(ctx context.Context) error
}

// ReadinessReporter is the optional Ready hook behind /health/readiness.
type ReadinessReporter interface {
	Ready(ctx context.Context) (bool, error)
}

// LivenessReporter is the optional Alive hook behind /health/liveness.
type LivenessReporter interface {
	Alive(ctx context.Context) (bool, error)
}

// DefaultListenAddress is func-go's default.
const DefaultListenAddress = "[::]:8080"

// Host serves one function.
type Host struct {
	fn       any
	handler  http.Handler
	mu       sync.RWMutex
	startErr error
	logger   *slog.Logger
}

// New wraps fn, which must be an HTTPFunction or an EventFunction.
func New(fn any) (*Host, error) {
	h := &Host{fn: fn, logger: slog.Default()}
	switch f := fn.(type) {
	case HTTPFunction:
		h.handler = http.HandlerFunc(f.Handle)
	case EventFunction:
		p, err := cehttp.New()
		if err != nil {
			return nil, fmt.Errorf("host: cloudevents protocol: %w", err)
		}
		ceHandler, err := cloudevents.NewHTTPReceiveHandler(context.Background(), p,
			func(ctx context.Context, e event.Event) (*event.Event, protocol.Result) {
				out, err := f.Handle(ctx, e)
				if err != nil {
					return nil, cehttp.NewResult(http.StatusInternalServerError, "%s", err.Error())
				}
				return out, nil
			})
		if err != nil {
			return nil, fmt.Errorf("host: cloudevents handler: %w", err)
		}
		h.handler = ceHandler
	default:
		return nil, errors.New("host: function has neither an HTTP nor a CloudEvents Handle method")
	}
	return h, nil
}

// Start calls the function's Start hook with env. A failing Start does not stop the host:
// it keeps answering, readiness reports the error (which names the bad setting) and every
// other request gets 503, so the platform never routes traffic to it.
func (h *Host) Start(ctx context.Context, env map[string]string) error {
	s, ok := h.fn.(Starter)
	if !ok {
		return nil
	}
	err := s.Start(ctx, env)
	h.mu.Lock()
	h.startErr = err
	h.mu.Unlock()
	if err != nil {
		h.logger.Error("function start failed", "error", err.Error())
	}
	return err
}

// Stop calls the function's Stop hook.
func (h *Host) Stop(ctx context.Context) error {
	if s, ok := h.fn.(Stopper); ok {
		return s.Stop(ctx)
	}
	return nil
}

func (h *Host) startError() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.startErr
}

// ServeHTTP answers the health endpoints and hands everything else to the function.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health/readiness":
		h.health(w, r, func(ctx context.Context) (bool, error) {
			if err := h.startError(); err != nil {
				return false, err
			}
			if rr, ok := h.fn.(ReadinessReporter); ok {
				return rr.Ready(ctx)
			}
			return true, nil
		})
		return
	case "/health/liveness":
		h.health(w, r, func(ctx context.Context) (bool, error) {
			if l, ok := h.fn.(LivenessReporter); ok {
				return l.Alive(ctx)
			}
			return true, nil
		})
		return
	}
	if err := h.startError(); err != nil {
		httpapi.Fail(w, r, httpapi.Unavailable("the service is not configured"))
		return
	}
	h.handler.ServeHTTP(w, r)
}

func (h *Host) health(w http.ResponseWriter, r *http.Request, check func(context.Context) (bool, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	ok, err := check(ctx)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok || err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		msg := "not ready"
		if err != nil {
			msg = err.Error()
		}
		_, _ = w.Write([]byte(msg + "\n"))
		return
	}
	_, _ = w.Write([]byte("OK\n"))
}

// Environ returns the process environment as a map, as func-go passes it to Start.
func Environ() map[string]string {
	env := make(map[string]string)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// ListenAddress returns LISTEN_ADDRESS, else 127.0.0.1:$PORT when PORT is set (local
// convenience), else func-go's default.
func ListenAddress(env map[string]string) string {
	if a := env["LISTEN_ADDRESS"]; a != "" {
		return a
	}
	if p := env["PORT"]; p != "" {
		return net.JoinHostPort("127.0.0.1", p)
	}
	return DefaultListenAddress
}

// newServer is the server Run listens with: LISTEN_ADDRESS, the project's read and write
// timeouts and the connection limits of the HTTP_* variables (httpapi.LoadServerLimits).
func newServer(env map[string]string, h *Host) (*http.Server, error) {
	limits, err := httpapi.LoadServerLimits(env)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return limits.NewServer(ListenAddress(env), h), nil
}

// Run serves fn until SIGINT or SIGTERM, then drains requests and calls Stop. It is the
// main of a function outside the cluster.
func Run(fn any) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := New(fn)
	if err != nil {
		return err
	}
	env := Environ()
	srv, err := newServer(env, h)
	if err != nil {
		return err
	}
	_ = h.Start(ctx, env) // reported by readiness
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("function listening", "address", srv.Addr)
	select {
	case err := <-errc:
		return fmt.Errorf("host: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		slog.Error("shutdown", "error", err.Error())
	}
	return h.Stop(shutdownCtx)
}
