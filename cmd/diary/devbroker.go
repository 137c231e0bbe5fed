package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/eventing/local"
)

// The local Broker's dev-only tools, for scripts/chaos. Neither exists in the cluster: they
// live in cmd/diary, which no deployed function links, and are off unless their variable is
// set (scripts/dev sets neither).
const (
	// envBrokerControl (1 or true) mounts brokerControlPath, with which a loopback caller
	// pauses the Broker ingress: while paused it answers 503, as a Broker that cannot be
	// reached looks to a producer.
	envBrokerControl = "LOCAL_BROKER_CONTROL"
	// envBrokerTap names a file where the ingress appends, one JSON line each, the id,
	// type, source, subject, time and data of every event it accepted.
	envBrokerTap = "LOCAL_BROKER_TAP"
	// brokerControlPath is the control: GET answers {"paused", "tap"}, POST {"paused": b}
	// sets it.
	brokerControlPath = brokerPath + "/control"
)

// pausedRetryAfter is the Retry-After of the paused ingress's 503s.
const pausedRetryAfter = time.Second

// localBroker is the Broker ingress cmd/diary serves: the router, behind the pause gate
// and with the tap when the dev-only settings ask for them.
type localBroker struct {
	router  *local.Router
	ingress http.Handler
	control http.Handler // nil unless LOCAL_BROKER_CONTROL is set
	tap     *eventTap    // nil unless LOCAL_BROKER_TAP is set
}

// newLocalBroker builds the router for manifests m delivering to handlers, with the tap
// and the control that env asks for.
func newLocalBroker(env map[string]string, m *local.Manifests, handlers map[string]http.Handler) (*localBroker, error) {
	controlOn := false
	if v := env[envBrokerControl]; v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s must be 1, true, 0 or false, not %q", envBrokerControl, v)
		}
		controlOn = on
	}
	b := &localBroker{}
	opts := local.Options{Handlers: handlers}
	if path := env[envBrokerTap]; path != "" {
		tap, err := openEventTap(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envBrokerTap, err)
		}
		b.tap = tap
		opts.Accepted = tap.record
		slog.Warn("local broker: event tap on (dev only)", "file", path)
	}
	router, err := local.NewRouter(m, opts)
	if err != nil {
		b.tap.close()
		return nil, err
	}
	b.router, b.ingress = router, router
	if controlOn {
		gate := &pauseGate{next: router}
		b.ingress = gate
		b.control = &brokerControl{gate: gate, tap: env[envBrokerTap]}
		slog.Warn("local broker: pause control on (dev only)", "path", brokerControlPath)
	}
	return b, nil
}

// mount serves the ingress (and the control, when on) on mux.
func (b *localBroker) mount(mux *http.ServeMux) {
	mux.Handle(brokerPath, b.ingress)
	if b.control != nil {
		mux.Handle(brokerControlPath, b.control)
	}
}

// Close stops the router's deliveries and closes the tap.
func (b *localBroker) Close() {
	b.router.Close()
	b.tap.close()
}

// pauseGate answers 503 instead of its next handler while paused.
type pauseGate struct {
	paused atomic.Bool
	next   http.Handler
}

func (g *pauseGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.paused.Load() {
		w.Header().Set("Retry-After", strconv.Itoa(int(pausedRetryAfter/time.Second)))
		http.Error(w, "the local broker is paused ("+envBrokerControl+")", http.StatusServiceUnavailable)
		return
	}
	g.next.ServeHTTP(w, r)
}

// brokerControl pauses and resumes a pauseGate for callers on loopback only.
type brokerControl struct {
	gate *pauseGate
	tap  string
}

// controlState is the control's answer and a POST's body.
type controlState struct {
	Paused bool   `json:"paused"`
	Tap    string `json:"tap,omitempty"`
}

func (c *brokerControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The API listens on loopback already; the control also refuses anything relayed from
	// elsewhere and any browser page (which sends Origin), so no web page can pause it.
	if !loopbackPeer(r.RemoteAddr) || r.Header.Get("Origin") != "" || r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "the broker control answers loopback clients only", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var want controlState
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `send application/json {"paused": true|false}`, http.StatusBadRequest)
			return
		}
		if c.gate.paused.Swap(want.Paused) != want.Paused {
			slog.Warn("local broker: ingress "+map[bool]string{true: "paused", false: "resumed"}[want.Paused], "path", brokerControlPath)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(controlState{Paused: c.gate.paused.Load(), Tap: c.tap})
}

// loopbackPeer reports whether a RemoteAddr is a loopback address.
func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// eventTap appends the events the ingress accepted to a file, one JSON line each.
type eventTap struct {
	mu sync.Mutex
	f  *os.File
}

// tapLine is one line of the tap. Events carry ids only (docs/events.md), so the data is
// written as it came.
type tapLine struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Subject string          `json:"subject,omitempty"`
	Time    string          `json:"time,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func openEventTap(path string) (*eventTap, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open event tap: %w", err)
	}
	return &eventTap{f: f}, nil
}

// record appends ev. A failed write is logged: the tap must not refuse events.
func (t *eventTap) record(ev event.Event) {
	line := tapLine{ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Subject: ev.Subject()}
	if !ev.Time().IsZero() {
		line.Time = ev.Time().UTC().Format(time.RFC3339Nano)
	}
	if data := ev.Data(); json.Valid(data) {
		line.Data = data
	}
	b, err := json.Marshal(line)
	if err != nil {
		slog.Error("local broker: event tap", "event_id", ev.ID(), "error", err.Error())
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.f.Write(append(b, '\n')); err != nil {
		slog.Error("local broker: event tap", "event_id", ev.ID(), "error", err.Error())
	}
}

func (t *eventTap) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.f.Close()
}
