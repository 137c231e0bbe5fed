package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Event is one CloudEvent an EventSink received (binary mode: attributes from the Ce-*
// headers, the body as data).
type Event struct {
	Type, Source, Subject string
	Data                  []byte
}

// EventSink is a stand-in Broker ingress (K_SINK) that keeps every event sent to it and
// accepts it with 202, for tests of what a producer emits.
type EventSink struct {
	// URL is where to point K_SINK.
	URL    string
	mu     sync.Mutex
	events []Event
}

// NewEventSink starts a sink, closed when the test ends.
func NewEventSink(t testing.TB) *EventSink {
	t.Helper()
	s := &EventSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.events = append(s.events, Event{r.Header.Get("Ce-Type"), r.Header.Get("Ce-Source"), r.Header.Get("Ce-Subject"), b})
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
