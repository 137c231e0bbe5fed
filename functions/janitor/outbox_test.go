package janitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// addEvent writes one outbox row of the user, as a producer does in its transaction.
func (w *world) addEvent(userID string) string {
	w.t.Helper()
	var id string
	err := store.Transact(context.Background(), w.svc.DB, func(tx pgx.Tx) error {
		var err error
		id, err = outbox.Add(context.Background(), tx, eventing.TypeEntryChanged, eventing.SourceEntries, userID, userID,
			eventing.EntryChanged{UserID: userID, EntryID: userID, Change: "created", Version: 1})
		return err
	})
	if err != nil {
		w.t.Fatalf("outbox.Add() = %v", err)
	}
	return id
}

func (w *world) delivered(id string) bool {
	w.t.Helper()
	var d bool
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT delivered_at IS NOT NULL FROM outbox WHERE id = $1`, id).Scan(&d); err != nil {
		w.t.Fatalf("outbox row %s: %v", id, err)
	}
	return d
}

// TestOutboxSweep: the outbox-sweep tick, built from its PingSource and delivered through
// the project's Trigger, makes the janitor relay the rows a producer left (it scaled to
// zero with the Broker away), with their own ids; rows in their backoff wait.
func TestOutboxSweep(t *testing.T) {
	w := newWorld(t)
	sink := testenv.NewEventSink(t)
	w.cfg.Sink = sink.URL
	u, v := w.user(), w.user()
	left := []string{w.addEvent(u), w.addEvent(u)}
	backingOff := w.addEvent(v)
	if _, err := w.svc.DB.Exec(context.Background(), `UPDATE outbox SET attempts = 3, next_attempt_at = now() + interval '1 hour' WHERE id = $1`, backingOff); err != nil {
		t.Fatal(err)
	}
	ps, ok := w.m.PingSource(eventing.PingOutboxSweep)
	if !ok {
		t.Fatal("no PingSource outbox-sweep in eventing/manifests")
	}
	tick, err := local.PingEvent(ps, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.router(w.objects).Publish(context.Background(), tick); err != nil {
		t.Fatalf("Publish(outbox-sweep tick) = %v", err)
	}
	got := testenv.Of(sink.Events(), u)
	if len(got) != 2 || got[0].ID != left[0] || got[1].ID != left[1] {
		t.Errorf("the sweep sent %+v, want the rows %v in order", got, left)
	}
	for _, id := range left {
		if !w.delivered(id) {
			t.Errorf("row %s not marked delivered by the sweep", id)
		}
	}
	if len(testenv.Of(sink.Events(), v)) != 0 || w.delivered(backingOff) {
		t.Errorf("a row in its backoff was sent by the sweep")
	}
}

// TestCleanupDeletesDeliveredOutboxRows: the daily cleanup deletes outbox rows delivered
// longer than OUTBOX_RETENTION ago, in batches, and keeps the others, undelivered ones
// however old.
func TestCleanupDeletesDeliveredOutboxRows(t *testing.T) {
	w := newWorld(t)
	w.cfg.OutboxRetention = 10 * day // longer than the default: other tests' rows are theirs
	w.cfg.BatchSize = 2
	u := w.user()
	rows := map[string]struct {
		delivered string // how long ago; "" for undelivered
		want      bool
	}{}
	for _, c := range []struct {
		delivered string
		want      bool
	}{{"11 days", false}, {"12 days", false}, {"13 days", false}, {"9 days", true}, {"", true}} {
		id := w.addEvent(u)
		rows[id] = c
		sql := `UPDATE outbox SET time = now() - interval '20 days' WHERE id = $1`
		args := []any{id}
		if c.delivered != "" {
			sql = `UPDATE outbox SET time = now() - interval '20 days', delivered_at = now() - $2::interval WHERE id = $1`
			args = append(args, c.delivered)
		}
		if _, err := w.svc.DB.Exec(context.Background(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.router(w.objects).Publish(context.Background(), w.tick()); err != nil {
		t.Fatalf("Publish(daily-cleanup tick) = %v", err)
	}
	left := map[string]bool{}
	for _, e := range testenv.Outbox(t, w.svc.DB, u) {
		left[e.ID] = true
	}
	for id, c := range rows {
		if left[id] != c.want {
			t.Errorf("row delivered %q ago: kept %v, want %v", c.delivered, left[id], c.want)
		}
	}
}
