package entries

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/testenv"
)

// receivedEvent is a CloudEvent as the sink received it (binary mode).
type receivedEvent struct {
	typ, source, subject string
	data                 eventing.EntryChanged
	raw                  string
}

// TestEntryChangedEvents checks that every committed change sends one entry.changed event
// to K_SINK, with ids, the kind of change and the version, and no content.
func TestEntryChangedEvents(t *testing.T) {
	var mu sync.Mutex
	var got []receivedEvent
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		ev := receivedEvent{typ: r.Header.Get("Ce-Type"), source: r.Header.Get("Ce-Source"), subject: r.Header.Get("Ce-Subject"), raw: string(raw)}
		if err := json.Unmarshal(raw, &ev.data); err != nil {
			t.Errorf("event data %q: %v", raw, err)
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	h := newHarness(t, sink.URL)
	u := testenv.NewUser(t, h.svc, "uce")

	secret := "a-very-private-thought"
	e := h.create(t, u, map[string]any{"content": secret, "title": secret})
	h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(e.ID), map[string]any{"content": secret})
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	h.mustStatus(t, u, http.StatusOK, "POST", entryPath(e.ID)+"/restore", nil)
	// Failed writes send nothing.
	h.mustStatus(t, u, http.StatusPreconditionFailed, "PUT", entryPath(e.ID), map[string]any{"content": "x"}, "If-Match", `"1"`)

	mu.Lock()
	defer mu.Unlock()
	want := []eventing.EntryChanged{
		{UserID: u.ID, EntryID: e.ID, Change: "created", Version: 1},
		{UserID: u.ID, EntryID: e.ID, Change: "updated", Version: 2},
		{UserID: u.ID, EntryID: e.ID, Change: "deleted", Version: 3},
		{UserID: u.ID, EntryID: e.ID, Change: "restored", Version: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("sink received %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, ev := range got {
		if ev.data != want[i] {
			t.Errorf("event %d data = %+v, want %+v", i, ev.data, want[i])
		}
		if ev.typ != eventing.TypeEntryChanged || ev.source != eventing.SourceEntries || ev.subject != e.ID {
			t.Errorf("event %d = type %q source %q subject %q, want %q %q %q", i, ev.typ, ev.source, ev.subject,
				eventing.TypeEntryChanged, eventing.SourceEntries, e.ID)
		}
		if strings.Contains(ev.raw, secret) {
			t.Errorf("event %d carries entry text: %s", i, ev.raw)
		}
	}
}

// TestDeadSinkDoesNotFailWrites checks that a write succeeds, promptly, when K_SINK does
// not answer, and that the failure is logged.
func TestDeadSinkDoesNotFailWrites(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, "http://127.0.0.1:1") // nothing listens on port 1
	u := testenv.NewUser(t, h.svc, "e2e")

	start := time.Now()
	e := h.create(t, u, body(t, u, "", nil))
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	if took := time.Since(start); took > 2*emitTimeout+time.Second {
		t.Errorf("two writes with a dead sink took %v, want under %v", took, 2*emitTimeout+time.Second)
	}
	h.mustStatus(t, u, http.StatusOK, "GET", entryPath(e.ID)+"/history", nil)
	if !strings.Contains(logs.String(), "event not emitted") {
		t.Errorf("logs do not report the failed emit:\n%s", logs)
	}

	// A sink that hangs is cut off by the emit timeout: it answers only once the test
	// ends, so the write returning at all shows the cut-off, with no timing bound that a
	// busy machine could break.
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	h = newHarness(t, slow.URL)
	h.create(t, u, body(t, u, "", nil))
}
