// Package eventingtest holds what the consumers' fuzz targets share: the events they feed
// a consumer (any type, content type and data), their seeds, and the check that a refused
// event is acknowledged, so that the Broker never retries garbage.
package eventingtest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Add adds a seed to f: an event's type, data content type and data, the arguments Event
// takes.
func Add(f *testing.F, typ, contentType, data string) {
	f.Add(typ, contentType, []byte(data))
}

// Event is the event a fuzz target feeds its consumer: a fixed id and source, the type, and
// data of the content type. ok is false for data the SDK would not carry (no consumer
// would see such an event).
func Event(typ, contentType string, data []byte) (ev event.Event, ok bool) {
	ev = event.New()
	ev.SetID("fuzz-1")
	ev.SetSource("/fuzz")
	ev.SetType(typ)
	return ev, ev.SetData(contentType, data) == nil
}

// Discard is a logger for a consumer under fuzzing: its refusals log a line each.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// WantAcknowledged fails t unless handle acknowledges ev (returns nil): a refused event
// must not come back. A consumer built without its services also shows, by panicking,
// that the refusal came before any query.
func WantAcknowledged(t testing.TB, handle func(context.Context, event.Event) error, ev event.Event) {
	t.Helper()
	if err := handle(t.Context(), ev); err != nil {
		t.Fatalf("handle(%s %q) = %v, want nil (acknowledged)", ev.Type(), ev.Data(), err)
	}
}
