package janitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// A tick's time is what its sender wrote. The janitor computes its cut-offs from its own
// clock: a tick far from it purges nothing (and is acknowledged, so the Broker does not
// retry it), and one slightly ahead of it runs with the clock's time.
func TestCutoffsComeFromTheJanitorsClock(t *testing.T) {
	// The clock is today's: the database is shared with other packages' tests, whose rows
	// a clock far from the real one would purge.
	clock := time.Now().UTC().Truncate(time.Microsecond)
	tests := []struct {
		name    string
		evTime  time.Time
		refused bool
	}{
		{"dated 2099", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"two hours ahead", clock.Add(2 * time.Hour), true},
		{"three days late", clock.Add(-3 * day), true},
		{"now", clock, false},
		{"half an hour ahead", clock.Add(30 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.cfg.Clock = func() time.Time { return clock }
			alice := w.user()
			// Retention is 45 days (newWorld). Ages are set from the clock exactly.
			deletedYesterday := w.entry(alice, day)
			pastRetention := w.entry(alice, day)
			w.setDeletedAt(pastRetention, clock.Add(-45*day-10*time.Minute))
			// Within retention by the clock, past it by a time half an hour ahead.
			almostDue := w.entry(alice, day)
			w.setDeletedAt(almostDue, clock.Add(-45*day+10*time.Minute))

			logs := captureDefaultLogger(t)
			r := w.router(w.objects)
			ev := w.tick()
			ev.SetTime(tt.evTime)
			if err := r.Publish(context.Background(), ev); err != nil {
				t.Fatalf("Publish(tick at %s) = %v, want it acknowledged", tt.evTime, err)
			}

			for _, e := range []struct {
				name, id string
				want     bool
			}{
				{"entry deleted a day ago", deletedYesterday, true},
				{"entry deleted 10 minutes within retention", almostDue, true},
				{"entry 10 minutes past retention", pastRetention, tt.refused},
			} {
				if got := w.exists("entries", e.id); got != e.want {
					t.Errorf("%s: exists = %v, want %v", e.name, got, e.want)
				}
			}
			handled := w.count(`SELECT count(*) FROM processed_events WHERE consumer = 'janitor' AND event_id = $1`, ev.ID())
			jobs := userJobs(t, w.svc.DB, alice)
			if tt.refused {
				if handled != 0 || len(jobs) != 0 {
					t.Errorf("refused tick: processed_events rows %d, alice's jobs %+v; want none", handled, jobs)
				}
				line := findLog(t, logs, "janitor refused a cleanup ping")
				if line == nil || line["event_id"] != ev.ID() || line["level"] != "WARN" {
					t.Errorf("log of the refused tick = %v, want a WARN line with its event_id", line)
				}
				return
			}
			if handled != 1 || len(jobs) != 1 || asInt(jobs[0].Result["entries_purged"]) != 1 {
				t.Fatalf("tick: processed_events rows %d, alice's jobs %+v; want 1 and one job with entries_purged 1", handled, jobs)
			}
			var ref time.Time
			err := w.svc.DB.QueryRow(context.Background(),
				`SELECT (result->>'reference_time')::timestamptz FROM jobs WHERE id = $1`, *jobs[0].ParentID).Scan(&ref)
			want := tt.evTime
			if want.After(clock) {
				want = clock
			}
			if err != nil || !ref.Equal(want) {
				t.Errorf("run's reference_time = %v (%v), want %v", ref, err, want)
			}
		})
	}
}

// setDeletedAt sets an entry's deleted_at to exactly at.
func (w *world) setDeletedAt(entryID string, at time.Time) {
	w.t.Helper()
	if _, err := w.svc.DB.Exec(context.Background(), `UPDATE entries SET deleted_at = $2 WHERE id = $1`, entryID, at); err != nil {
		w.t.Fatalf("set deleted_at: %v", err)
	}
}

// captureDefaultLogger makes slog's default logger (the one a janitor made afterwards
// logs with) write JSON into the returned buffer until the test ends.
func captureDefaultLogger(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

// findLog returns the first JSON log line whose msg is msg, or nil.
func findLog(t *testing.T, logs *bytes.Buffer, msg string) map[string]any {
	t.Helper()
	for _, raw := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var line map[string]any
		if json.Unmarshal(raw, &line) == nil && line["msg"] == msg {
			return line
		}
	}
	return nil
}
