package testenv

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Event is one CloudEvent an EventSink received (binary mode: attributes from the Ce-*
// headers, the body as data).
type Event struct {
	Type, Source, Subject string
	Data                  []byte
	// ID is the event's id (Ce-Id); Outbox fills it with the row's id.
	ID string
}

// EventSink is a stand-in Broker ingress (K_SINK) that keeps every event sent to it and
// accepts it with 202, for tests of what a producer emits.
type EventSink struct {
	// URL is where to point K_SINK.
	URL    string
	mu     sync.Mutex
	cond   *sync.Cond
	events []Event
	// timedOut ends a Wait that waited too long.
	timedOut bool
}

// NewEventSink starts a sink, closed when the test ends.
func NewEventSink(t testing.TB) *EventSink {
	t.Helper()
	s := &EventSink{}
	s.cond = sync.NewCond(&s.mu)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.events = append(s.events, Event{r.Header.Get("Ce-Type"), r.Header.Get("Ce-Source"), r.Header.Get("Ce-Subject"), b, r.Header.Get("Ce-Id")})
		s.cond.Broadcast()
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Events returns the events received so far, in order.
func (s *EventSink) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Text is every event's attributes and data, one event a line, to search for what must
// not be there.
func (s *EventSink) Text() string {
	var b strings.Builder
	for _, e := range s.Events() {
		b.WriteString(e.Type + " " + e.Source + " " + e.Subject + " " + string(e.Data) + "\n")
	}
	return b.String()
}

// Wait returns the events received so far once want(events) holds, waiting for more
// events until then; the test fails if it does not hold within a minute (the relay sends
// after the commit, in the background, so a test waits for what it expects).
func (s *EventSink) Wait(t testing.TB, want func([]Event) bool) []Event {
	t.Helper()
	timer := time.AfterFunc(time.Minute, func() {
		s.mu.Lock()
		s.timedOut = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !want(s.events) {
		if s.timedOut {
			t.Fatalf("the sink did not receive the events the test waits for; it has %d", len(s.events))
		}
		s.cond.Wait()
	}
	return append([]Event(nil), s.events...)
}

// Of returns the events whose data name the user ("user_id"), in the order received: a
// relay sends every row of the outbox, so a sink may see other tests' events too.
func Of(events []Event, userID string) []Event {
	var out []Event
	for _, e := range events {
		var d struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.UserID == userID {
			out = append(out, e)
		}
	}
	return out
}

// Outbox returns the events written to the outbox for the user (eventing/outbox.Add),
// delivered or not, in the order they were written: what a producer wrote in its change's
// transaction.
func Outbox(t testing.TB, db *pgxpool.Pool, userID string) []Event {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT type, source, subject, data::text, id::text FROM outbox WHERE user_id = $1 ORDER BY seq`, userID)
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var data string
		err := r.Scan(&e.Type, &e.Source, &e.Subject, &data, &e.ID)
		e.Data = []byte(data)
		return e, err
	})
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	return events
}
