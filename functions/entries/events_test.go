package entries

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/testenv"
)

// delivery is an outbox row's delivery state.
func delivery(t *testing.T, h *harness, id string) (attempts int, delivered bool) {
	t.Helper()
	if err := h.svc.DB.QueryRow(context.Background(), `SELECT attempts, delivered_at IS NOT NULL FROM outbox WHERE id = $1`, id).
		Scan(&attempts, &delivered); err != nil {
		t.Fatalf("outbox row %s: %v", id, err)
	}
	return attempts, delivered
}

// TestEntryChangedEvents checks that every committed change writes one entry.changed
// event to the outbox in its transaction, with ids, the kind of change and the version,
// and no content, and that the relay delivers them in order with the rows' ids; a write
// that fails writes none.
func TestEntryChangedEvents(t *testing.T) {
	sink := testenv.NewEventSink(t)
	h := newHarness(t, sink.URL)
	u := testenv.NewUser(t, h.svc, "uce")

	secret := "a-very-private-thought"
	e := h.create(t, u, map[string]any{"content": secret, "title": secret})
	h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(e.ID), map[string]any{"content": secret})
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	h.mustStatus(t, u, http.StatusOK, "POST", entryPath(e.ID)+"/restore", nil)
	// Failed writes write nothing.
	h.mustStatus(t, u, http.StatusPreconditionFailed, "PUT", entryPath(e.ID), map[string]any{"content": "x"}, "If-Match", `"1"`)
	h.mustStatus(t, u, http.StatusNotFound, "DELETE", entryPath("00000000-0000-4000-8000-000000000000"), nil)

	want := []eventing.EntryChanged{
		{UserID: u.ID, EntryID: e.ID, Change: "created", Version: 1},
		{UserID: u.ID, EntryID: e.ID, Change: "updated", Version: 2},
		{UserID: u.ID, EntryID: e.ID, Change: "deleted", Version: 3},
		{UserID: u.ID, EntryID: e.ID, Change: "restored", Version: 4},
	}
	written := testenv.Outbox(t, h.svc.DB, u.ID)
	if len(written) != len(want) {
		t.Fatalf("outbox holds %d events of the user, want %d: %+v", len(written), len(want), written)
	}
	got := testenv.Of(sink.Wait(t, func(evs []testenv.Event) bool { return len(testenv.Of(evs, u.ID)) >= len(want) }), u.ID)
	if len(got) != len(want) {
		t.Fatalf("sink received %d events of the user, want %d", len(got), len(want))
	}
	for i, ev := range got {
		var data eventing.EntryChanged
		if err := json.Unmarshal(ev.Data, &data); err != nil || data != want[i] {
			t.Errorf("event %d data = %s, want %+v", i, ev.Data, want[i])
		}
		if ev.ID != written[i].ID {
			t.Errorf("event %d id = %q, want the outbox row's %q", i, ev.ID, written[i].ID)
		}
		if ev.Type != eventing.TypeEntryChanged || ev.Source != eventing.SourceEntries || ev.Subject != e.ID {
			t.Errorf("event %d = type %q source %q subject %q, want %q %q %q", i, ev.Type, ev.Source, ev.Subject,
				eventing.TypeEntryChanged, eventing.SourceEntries, e.ID)
		}
		if strings.Contains(string(ev.Data), secret) {
			t.Errorf("event %d carries entry text: %s", i, ev.Data)
		}
	}
}

// TestWriteDoesNotWaitForTheBroker: the write answers while the Broker holds the event's
// delivery (it answers only once the test lets it, after the write has returned), and the
// event is delivered once it does.
func TestWriteDoesNotWaitForTheBroker(t *testing.T) {
	arrived, release := make(chan string, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- r.Header.Get("Ce-Id"):
		default:
		}
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	h := newHarness(t, srv.URL)
	u := testenv.NewUser(t, h.svc, "e2e")

	answered := make(chan testenv.Response, 1)
	go func() { answered <- h.do(t, u, "POST", "/api/v1/entries", body(t, u, "", nil)) }()
	var res testenv.Response
	select {
	case res = <-answered:
	case <-time.After(30 * time.Second): // a hang detector, not a speed bound
		close(release)
		t.Fatal("the write is waiting for the Broker")
	}
	if res.Code != http.StatusCreated {
		t.Fatalf("create = %d %s, want 201", res.Code, res.Body)
	}
	rows := testenv.Outbox(t, h.svc.DB, u.ID)
	if len(rows) != 1 {
		t.Fatalf("outbox after the write = %+v, want its event", rows)
	}
	if _, delivered := delivery(t, h, rows[0].ID); delivered {
		t.Fatal("the event is marked delivered while the Broker has not answered")
	}
	if id := <-arrived; id != rows[0].ID {
		t.Errorf("the Broker was sent %s, want %s", id, rows[0].ID)
	}
	close(release)
	if err := h.fn.Stop(context.Background()); err != nil { // finishes the relay's round
		t.Fatal(err)
	}
	if _, delivered := delivery(t, h, rows[0].ID); !delivered {
		t.Error("the event is not marked delivered after the Broker accepted it")
	}
}

// TestBrokerDownThenBack: writes succeed while the Broker is unreachable; their events
// stay in the outbox (the failure logged), and a later instance delivers them with the
// same ids once the Broker is back.
func TestBrokerDownThenBack(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, "http://127.0.0.1:1") // nothing listens on port 1
	u := testenv.NewUser(t, h.svc, "e2e")
	e := h.create(t, u, body(t, u, "", nil))
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	if err := h.fn.Stop(context.Background()); err != nil { // its last round tried them
		t.Fatal(err)
	}
	rows := testenv.Outbox(t, h.svc.DB, u.ID)
	if len(rows) != 2 {
		t.Fatalf("outbox = %+v, want both writes' events", rows)
	}
	if attempts, delivered := delivery(t, h, rows[0].ID); delivered || attempts < 1 {
		t.Errorf("first event: %d attempts, delivered %v; want tried and undelivered", attempts, delivered)
	}
	if !strings.Contains(logs.String(), "event not accepted") {
		t.Errorf("logs do not report the failed send:\n%s", logs)
	}

	sink := testenv.NewEventSink(t)
	newHarness(t, sink.URL) // a new instance, the Broker back
	got := testenv.Of(sink.Wait(t, func(evs []testenv.Event) bool { return len(testenv.Of(evs, u.ID)) >= 2 }), u.ID)
	if len(got) != 2 || got[0].ID != rows[0].ID || got[1].ID != rows[1].ID {
		t.Errorf("delivered %+v, want the outbox rows %s, %s in order", got, rows[0].ID, rows[1].ID)
	}
}
