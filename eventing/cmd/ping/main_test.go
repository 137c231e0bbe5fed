package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
)

// janitorStandIn records the events the local Broker delivers to "janitor".
type janitorStandIn struct {
	mu     sync.Mutex
	bodies []string
	types  []string
}

func (j *janitorStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	j.mu.Lock()
	j.bodies = append(j.bodies, string(b))
	j.types = append(j.types, r.Header.Get("Ce-Type")+" "+r.Header.Get("Ce-Source"))
	j.mu.Unlock()
}

func TestPingReachesTheSubscriberThroughTheIngress(t *testing.T) {
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	janitor := &janitorStandIn{}
	handlers := map[string]http.Handler{"janitor": janitor}
	// The other consumers' Triggers need a subscriber too; a cleanup ping also reaches the
	// purge's sweep, which acknowledges it here.
	for _, tr := range m.Triggers {
		if ref := tr.Subscriber.Ref; ref != nil && handlers[ref.Name] == nil {
			handlers[ref.Name] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
			})
		}
	}
	r, err := local.NewRouter(m, local.Options{
		Handlers: handlers,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mux := http.NewServeMux()
	mux.Handle("/_local/broker", r)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var out strings.Builder
	if err := run([]string{"-broker", srv.URL + "/_local/broker", "daily-cleanup"}, &out); err != nil {
		t.Fatalf("run(daily-cleanup) = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	janitor.mu.Lock()
	defer janitor.mu.Unlock()
	if len(janitor.bodies) != 1 || janitor.bodies[0] != `{"job":"cleanup"}` ||
		janitor.types[0] != "dev.knative.sources.ping /apis/v1/namespaces/diary/pingsources/daily-cleanup" {
		t.Errorf("janitor received %v %v, want one daily-cleanup ping", janitor.types, janitor.bodies)
	}
	if !strings.Contains(out.String(), "202 Accepted") {
		t.Errorf("output = %q, want the broker's 202", out.String())
	}
}

func TestPingErrors(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusBadRequest)
	}))
	defer refusing.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown PingSource", []string{"-broker", refusing.URL, "nightly"}, `no PingSource named "nightly"`},
		{"no name", []string{"-broker", refusing.URL}, "name one PingSource"},
		{"broker refuses", []string{"-broker", refusing.URL, "daily-cleanup"}, "answered 400"},
		{"nothing listening", []string{"-broker", "http://127.0.0.1:1/_local/broker", "daily-cleanup"}, "is scripts/dev running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%v) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
	var out strings.Builder
	if err := run([]string{"-list"}, &out); err != nil || !strings.Contains(out.String(), "daily-cleanup") {
		t.Errorf("run(-list) = %v, %q; want daily-cleanup listed", err, out.String())
	}
}
