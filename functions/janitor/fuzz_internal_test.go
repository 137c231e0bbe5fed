package janitor

import (
	"errors"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/eventingtest"
)

// FuzzCleanupTick feeds the janitor events of any type, content type, time and data.
// What cleanupTick accepts is a daily-cleanup ping whose cut-offs come from a time within
// CLEANUP_EVENT_MAX_AGE before the clock and never after it; whatever it refuses, handle
// acknowledges (nil: no retry of garbage) without touching the database, which this
// janitor does not have.
func FuzzCleanupTick(f *testing.F) {
	now := time.Date(2026, 11, 25, 3, 30, 0, 0, time.UTC)
	for _, s := range []struct {
		typ, ct, data string
		at            time.Time
	}{
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`, now},
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`, now.Add(2 * time.Hour)},
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`, now.Add(-48 * time.Hour)},
		{eventing.TypePing, "application/json", `{"job":"facebook-sync"}`, now},
		{eventing.TypePing, "application/json", `{"job":"outbox-sweep"}`, now},
		{eventing.TypePing, "application/json", `{"job":1}`, now},
		{eventing.TypePing, "text/plain", `{"job":"cleanup"}`, now},
		{eventing.TypePing, "application/xml", `<job>cleanup</job>`, now},
		{eventing.TypePing, "", `{"job":"cleanup"}`, time.Time{}},
		{eventing.TypeAccountDeleted, "application/json", `{"user_id":"x"}`, now},
		{eventing.TypePing, "application/json", "\xff", now},
	} {
		f.Add(s.typ, s.ct, []byte(s.data), s.at.UnixNano())
	}
	fn := &Function{cfg: Config{EventMaxAhead: time.Hour, EventMaxAge: 24 * time.Hour, RunTimeout: time.Minute},
		logger: eventingtest.Discard()}
	fn.cfg.Clock = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte, at int64) {
		ev, ok := eventingtest.Event(typ, contentType, data)
		if !ok {
			return
		}
		if at != 0 {
			ev.SetTime(time.Unix(0, at))
		}
		tick, err := fn.cleanupTick(ev, now)
		if errors.Is(err, errOutboxSweep) {
			return // the sweep's tick: what it does needs the database (TestOutboxSweep)
		}
		if err != nil {
			eventingtest.WantAcknowledged(t, fn.handle, ev)
			return
		}
		if ev.Type() != eventing.TypePing || tick.After(now) || tick.Before(now.Add(-fn.cfg.EventMaxAge)) {
			t.Fatalf("cleanupTick(%s at %v) = %v, want a ping's time within a day before %v", ev.Type(), ev.Time(), tick, now)
		}
		var ping eventing.PingData
		if ev.DataAs(&ping) != nil || ping.Job != eventing.JobCleanup {
			t.Fatalf("cleanupTick accepted data %q", data)
		}
	})
}
