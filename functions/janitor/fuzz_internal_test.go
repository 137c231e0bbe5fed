package janitor

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/eventing"
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
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	fn.cfg.Clock = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte, at int64) {
		ev := event.New()
		ev.SetID("fuzz-1")
		ev.SetSource("/fuzz")
		ev.SetType(typ)
		if at != 0 {
			ev.SetTime(time.Unix(0, at))
		}
		if err := ev.SetData(contentType, data); err != nil {
			return
		}
		tick, err := fn.cleanupTick(ev, now)
		if err != nil {
			if got := fn.handle(t.Context(), ev); got != nil {
				t.Fatalf("handle of a refused event = %v, want nil (acknowledged)", got)
			}
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
