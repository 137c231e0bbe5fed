package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/shared/metrics"
)

// testManifests is a Broker with fast retries and Triggers with different filters.
const testManifests = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: diary
spec:
  delivery:
    retry: 2
    backoffPolicy: exponential
    backoffDelay: PT0.01S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letters
---
# entries changes go to the indexer
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: indexer-entry-changed
  namespace: diary
spec:
  broker: default
  filter:
    attributes:
      type: com.xmojo.diary.entry.changed
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: indexer
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: janitor-daily-cleanup
  namespace: diary
spec:
  broker: default
  filter:
    attributes:
      type: dev.knative.sources.ping
      source: /apis/v1/namespaces/diary/pingsources/daily-cleanup
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: janitor
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: audit-everything-with-subject
  namespace: diary
spec:
  broker: default
  filter:
    attributes:
      subject: ""
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: audit
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: other-broker
  namespace: diary
spec:
  broker: elsewhere
  subscriber:
    uri: http://127.0.0.1:1/never
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: daily-cleanup
  namespace: diary
spec:
  schedule: "30 3 * * *"
  timezone: Etc/UTC
  contentType: application/json
  data: '{"job":"cleanup"}'
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: hourly-sync
  namespace: diary
spec:
  schedule: "0 * * * *"
  contentType: application/json
  data: '{"job":"sync"}'
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
`

// consumer is an in-process subscriber that records what it receives and answers with
// the statuses in script (then 200).
type consumer struct {
	mu       sync.Mutex
	received []received
	script   []int
	reply    func(r *http.Request) (http.Header, []byte)
}

type received struct {
	header http.Header
	body   []byte
}

func (c *consumer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.received = append(c.received, received{header: r.Header.Clone(), body: body})
	status := http.StatusOK
	if n := len(c.received); n <= len(c.script) {
		status = c.script[n-1]
	}
	c.mu.Unlock()
	if status == http.StatusOK && c.reply != nil {
		h, b := c.reply(r)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	w.WriteHeader(status)
}

func (c *consumer) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, r := range c.received {
		ids = append(ids, r.header.Get("Ce-Id"))
	}
	return ids
}

func (c *consumer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.received)
}

func load(t *testing.T, yaml string) *local.Manifests {
	t.Helper()
	m, err := local.Load(fstest.MapFS{"eventing/all.yaml": {Data: []byte(yaml)}})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func newEvent(t *testing.T, typ, source, subject string, data any) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID("ev-" + uuid.NewString()) // a clock reading can repeat; the table below needs distinct ids
	ev.SetType(typ)
	ev.SetSource(source)
	if subject != "" {
		ev.SetSubject(subject)
	}
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestPublishDeliversOnlyToMatchingTriggers(t *testing.T) {
	indexer, janitor, audit := &consumer{}, &consumer{}, &consumer{}
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": indexer, "janitor": janitor, "audit": audit},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()

	tests := []struct {
		name                    string
		ev                      event.Event
		indexer, janitor, audit bool
	}{
		{"entry changed with subject", newEvent(t, eventing.TypeEntryChanged, eventing.SourceEntries, "e1", eventing.EntryChanged{EntryID: "e1"}), true, false, true},
		{"daily cleanup ping", newEvent(t, eventing.TypePing, eventing.SourceDailyCleanup, "", eventing.PingData{Job: "cleanup"}), false, true, false},
		{"ping from another source", newEvent(t, eventing.TypePing, "/apis/v1/namespaces/diary/pingsources/hourly-sync", "", eventing.PingData{Job: "sync"}), false, false, false},
		{"unknown type with subject", newEvent(t, "com.example.other", "/x", "s", map[string]string{}), false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Publish(context.Background(), tt.ev); err != nil {
				t.Fatalf("Publish() = %v", err)
			}
			for name, c := range map[string]struct {
				c    *consumer
				want bool
			}{"indexer": {indexer, tt.indexer}, "janitor": {janitor, tt.janitor}, "audit": {audit, tt.audit}} {
				got := slices.Contains(c.c.ids(), tt.ev.ID())
				if got != c.want {
					t.Errorf("%s received %s = %v, want %v", name, tt.ev.ID(), got, c.want)
				}
			}
		})
	}
}

func TestDeliveryIsBinaryMode(t *testing.T) {
	janitor := &consumer{}
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "janitor": janitor, "audit": &consumer{}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	ev, err := r.FirePing(context.Background(), "daily-cleanup")
	if err != nil {
		t.Fatalf("FirePing() = %v", err)
	}
	if janitor.count() != 1 {
		t.Fatalf("janitor received %d events, want 1", janitor.count())
	}
	got := janitor.received[0]
	for header, want := range map[string]string{
		"Ce-Id":          ev.ID(),
		"Ce-Specversion": "1.0",
		"Ce-Type":        "dev.knative.sources.ping",
		"Ce-Source":      "/apis/v1/namespaces/diary/pingsources/daily-cleanup",
		"Content-Type":   "application/json",
	} {
		if v := got.header.Get(header); v != want {
			t.Errorf("header %s = %q, want %q", header, v, want)
		}
	}
	if string(got.body) != `{"job":"cleanup"}` {
		t.Errorf("body = %s, want the PingSource's data", got.body)
	}
}

func TestRetriesThenDeliversOrDeadLetters(t *testing.T) {
	tests := []struct {
		name         string
		script       []int
		wantAttempts int
		wantDead     bool
	}{
		{"succeeds first time", nil, 1, false},
		{"fails once then succeeds", []int{http.StatusInternalServerError}, 2, false},
		{"retries 503 and 429", []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}, 3, false},
		{"fails every attempt", []int{500, 500, 500, 500}, 3, true},
		{"refuses for good on 400", []int{http.StatusBadRequest}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			janitor, dead := &consumer{script: tt.script}, &consumer{}
			deadLetters := testutil.ToFloat64(metrics.DeadLetters.WithLabelValues(local.PingType))
			var logs bytes.Buffer
			r, err := local.NewRouter(load(t, testManifests), local.Options{
				Handlers: map[string]http.Handler{"indexer": &consumer{}, "janitor": janitor, "audit": &consumer{}, "dead-letters": dead},
				Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatalf("NewRouter() = %v", err)
			}
			defer r.Close()
			ev, err := r.FirePing(context.Background(), "daily-cleanup")
			if gotDead := errors.Is(err, local.ErrDeadLettered); gotDead != tt.wantDead {
				t.Fatalf("FirePing() = %v, want dead-lettered %v", err, tt.wantDead)
			}
			if got := janitor.count(); got != tt.wantAttempts {
				t.Errorf("janitor received %d attempts, want %d", got, tt.wantAttempts)
			}
			for i, id := range janitor.ids() {
				if id != ev.ID() {
					t.Errorf("attempt %d carried id %q, want the same id %q", i+1, id, ev.ID())
				}
			}
			wantDead := 0
			if tt.wantDead {
				wantDead = 1
			}
			if dead.count() != wantDead {
				t.Fatalf("dead-letter sink received %d events, want %d", dead.count(), wantDead)
			}
			if got := testutil.ToFloat64(metrics.DeadLetters.WithLabelValues(local.PingType)) - deadLetters; got != float64(wantDead) {
				t.Errorf("diary_dead_letters_total grew by %v, want %d", got, wantDead)
			}
			if tt.wantDead {
				if got := dead.received[0].header.Get("Ce-Knativeerrordest"); got != "janitor" {
					t.Errorf("dead letter knativeerrordest = %q, want janitor", got)
				}
				if !strings.Contains(logs.String(), `"msg":"event dead-lettered"`) {
					t.Errorf("no dead-letter log line in %s", logs.String())
				}
				if strings.Contains(logs.String(), `"job"`) {
					t.Errorf("the log holds event data: %s", logs.String())
				}
			}
		})
	}
}

func TestIngressAcceptsAndDeliversInBackground(t *testing.T) {
	indexer := &consumer{}
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": indexer, "janitor": &consumer{}, "audit": &consumer{}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()

	// A binary-mode CloudEvent, as the outbox relay sends it, to the ingress K_SINK names.
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(srv.URL + "/_local/broker"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := cloudevents.NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	id := "4f1c2b7e-9a3d-4e5f-8b6a-0c1d2e3f4a5b"
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetType(eventing.TypeEntryChanged)
	ev.SetSource(eventing.SourceEntries)
	ev.SetSubject("e1")
	if err := ev.SetData(cloudevents.ApplicationJSON, eventing.EntryChanged{UserID: "u1", EntryID: "e1", Change: "created", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if res := client.Send(context.Background(), ev); !cloudevents.IsACK(res) {
		t.Fatalf("Send() = %v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatalf("Drain() = %v", err)
	}
	if got := indexer.ids(); !slices.Equal(got, []string{id}) {
		t.Fatalf("indexer received %v, want [%s]", got, id)
	}
	var data eventing.EntryChanged
	if err := json.Unmarshal(indexer.received[0].body, &data); err != nil || data.EntryID != "e1" || data.Version != 1 {
		t.Errorf("indexer data = %s (%v), want the EntryChanged payload", indexer.received[0].body, err)
	}

	tests := []struct {
		name, method, contentType, body string
		want                            int
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"not an event", http.MethodPost, "application/json", `{"job":"cleanup"}`, http.StatusBadRequest},
		{"structured event", http.MethodPost, "application/cloudevents+json",
			`{"specversion":"1.0","id":"s1","type":"com.example.x","source":"/x","data":{}}`, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+"/_local/broker", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s ingress = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestReplyEventsGoBackToTheBroker(t *testing.T) {
	indexer := &consumer{}
	janitor := &consumer{reply: func(*http.Request) (http.Header, []byte) {
		h := http.Header{}
		h.Set("Ce-Id", "reply-1")
		h.Set("Ce-Specversion", "1.0")
		h.Set("Ce-Type", eventing.TypeEntryChanged)
		h.Set("Ce-Source", "/diary/janitor")
		h.Set("Content-Type", "application/json")
		return h, []byte(`{"entry_id":"e9"}`)
	}}
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": indexer, "janitor": janitor, "audit": &consumer{}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	if _, err := r.FirePing(context.Background(), "daily-cleanup"); err != nil {
		t.Fatalf("FirePing() = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatalf("Drain() = %v", err)
	}
	if got := indexer.ids(); !slices.Equal(got, []string{"reply-1"}) {
		t.Errorf("indexer received %v, want the janitor's reply [reply-1]", got)
	}
}

func TestURLSubscribers(t *testing.T) {
	remote := &consumer{script: []int{http.StatusBadGateway}}
	srv := httptest.NewServer(remote)
	defer srv.Close()
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "audit": &consumer{}},
		URLs:     map[string]string{"janitor": srv.URL},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	ev, err := r.FirePing(context.Background(), "daily-cleanup")
	if err != nil {
		t.Fatalf("FirePing() = %v", err)
	}
	if got := remote.ids(); !slices.Equal(got, []string{ev.ID(), ev.ID()}) {
		t.Errorf("remote janitor received %v, want the event twice (one retry)", got)
	}
}

func TestNewRouterRefusesWhatItCannotRoute(t *testing.T) {
	all := map[string]http.Handler{"indexer": &consumer{}, "janitor": &consumer{}, "audit": &consumer{}}
	tests := []struct {
		name     string
		yaml     string
		handlers map[string]http.Handler
		want     string
	}{
		{"subscriber not mounted", testManifests, map[string]http.Handler{"indexer": &consumer{}, "audit": &consumer{}}, `no handler or URL for Service "janitor"`},
		{"no broker", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: diary\n", all, `no Broker named "default"`},
		{"bad cron", strings.Replace(testManifests, `"30 3 * * *"`, `"61 3 * * *"`, 1), all, "PingSource daily-cleanup: schedule"},
		{"bad time zone", strings.Replace(testManifests, "Etc/UTC", "Mars/Olympus", 1), all, "PingSource daily-cleanup"},
		{"@every", strings.Replace(testManifests, `"30 3 * * *"`, `"@every 1h"`, 1), all, "@every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := local.NewRouter(load(t, tt.yaml), local.Options{Handlers: tt.handlers, Logger: quietLogger()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRouter() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFirePingUnknownName(t *testing.T) {
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "janitor": &consumer{}, "audit": &consumer{}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.FirePing(context.Background(), "nightly-nothing"); err == nil {
		t.Errorf(`FirePing("nightly-nothing") = nil, want an error`)
	}
}

func TestRunSchedulesFiresOnTheCron(t *testing.T) {
	// Six fields: every second, so the test sees a firing quickly.
	yaml := strings.Replace(testManifests, `"30 3 * * *"`, `"* * * * * *"`, 1)
	janitor := &consumer{}
	r, err := local.NewRouter(load(t, yaml), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "janitor": janitor, "audit": &consumer{}},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.RunSchedules(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for janitor.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if janitor.count() == 0 {
		t.Fatalf("no scheduled ping reached the janitor within 5s")
	}
	if got := janitor.received[0].body; string(got) != `{"job":"cleanup"}` {
		t.Errorf("scheduled ping data = %s, want {\"job\":\"cleanup\"}", got)
	}
}

// TestHangingDeadLetterSinkIsBounded: a dead-letter sink that never answers holds a
// delivery only for the Broker's delivery timeout, so Publish (and Drain and Close, which
// wait for it) return.
func TestHangingDeadLetterSinkIsBounded(t *testing.T) {
	release := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(sink.Close)
	t.Cleanup(func() { close(release) })
	manifests := strings.Replace(testManifests, "    backoffDelay: PT0.01S\n", "    backoffDelay: PT0.01S\n    timeout: PT0.2S\n", 1)
	r, err := local.NewRouter(load(t, manifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "audit": &consumer{},
			"janitor": &consumer{script: []int{http.StatusBadRequest}}},
		URLs:   map[string]string{"dead-letters": sink.URL},
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		_, err := r.FirePing(context.Background(), "daily-cleanup")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, local.ErrDeadLettered) {
			t.Fatalf("FirePing() = %v, want dead-lettered", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FirePing() still waits for a dead-letter sink that never answers")
	}
}

// TestAcceptedSeesEachIngressEventBeforeTheAnswer: the hook gets every event the ingress
// accepts, by the time the producer has its 202, and none it refused; Publish (not the
// ingress) does not call it.
func TestAcceptedSeesEachIngressEventBeforeTheAnswer(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	r, err := local.NewRouter(load(t, testManifests), local.Options{
		Handlers: map[string]http.Handler{"indexer": &consumer{}, "janitor": &consumer{}, "audit": &consumer{}},
		Logger:   quietLogger(),
		Accepted: func(ev event.Event) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, ev.ID())
		},
	})
	if err != nil {
		t.Fatalf("NewRouter() = %v", err)
	}
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	client, err := cloudevents.NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvent(t, eventing.TypeEntryChanged, eventing.SourceEntries, "e1",
		eventing.EntryChanged{UserID: "u1", EntryID: "e1", Change: "created", Version: 1})
	if res := client.Send(context.Background(), ev); !cloudevents.IsACK(res) {
		t.Fatalf("Send() = %v", res)
	}
	id := ev.ID()
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if !slices.Equal(got, []string{id}) {
		t.Errorf("Accepted saw %v after the 202, want [%s]", got, id)
	}

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"job":"cleanup"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := r.Publish(context.Background(), newEvent(t, "com.example.x", "/x", "", map[string]string{})); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Errorf("Accepted saw %v after a refused POST and a Publish, want only [%s]", seen, id)
	}
}
