// Package eventing owns the project's events: the catalogue of CloudEvent types with their
// payloads, and the emitter that sends them to the Broker (K_SINK).
package eventing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
)

// Emitter sends CloudEvents in binary HTTP mode to a sink with a bounded retry. A nil
// *Emitter, or one made with an empty sink, drops events: K_SINK is unset where no Broker is.
type Emitter struct {
	client   cloudevents.Client
	sink     string
	attempts int
	backoff  time.Duration
}

// NewEmitter returns an Emitter posting to sink (the K_SINK URL). An empty sink gives an
// Emitter that sends nothing.
func NewEmitter(sink string) (*Emitter, error) {
	if sink == "" {
		return &Emitter{}, nil
	}
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(sink))
	if err != nil {
		return nil, fmt.Errorf("eventing: K_SINK: %w", err)
	}
	c, err := cloudevents.NewClient(p, cloudevents.WithTimeNow(), cloudevents.WithUUIDs())
	if err != nil {
		return nil, fmt.Errorf("eventing: client: %w", err)
	}
	return &Emitter{client: c, sink: sink, attempts: 3, backoff: 100 * time.Millisecond}, nil
}

// Emit sends one event of the type from source with data as JSON, retrying transient
// failures a bounded number of times within ctx. It returns the event id.
func (e *Emitter) Emit(ctx context.Context, eventType, source, subject string, data any) (string, error) {
	id := uuid.NewString()
	if e == nil || e.client == nil {
		return id, nil
	}
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetType(eventType)
	ev.SetSource(source)
	if subject != "" {
		ev.SetSubject(subject)
	}
	ev.SetTime(time.Now().UTC())
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return "", fmt.Errorf("eventing: encode %s: %w", eventType, err)
	}
	ctx = cloudevents.ContextWithTarget(ctx, e.sink)
	var last error
	for attempt := 1; attempt <= e.attempts; attempt++ {
		res := e.client.Send(ctx, ev)
		if cloudevents.IsACK(res) {
			return id, nil
		}
		last = res
		if !retryable(res) || attempt == e.attempts {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("eventing: emit %s: %w", eventType, ctx.Err())
		case <-time.After(e.backoff << (attempt - 1)):
		}
	}
	return "", fmt.Errorf("eventing: emit %s: %w", eventType, last)
}

// retryable reports whether a send result is worth another try: transport errors, 429 and
// 5xx are; other answers from the sink are final.
func retryable(res protocol.Result) bool {
	var httpRes *cehttp.Result
	if errors.As(res, &httpRes) {
		return httpRes.StatusCode == 429 || httpRes.StatusCode >= 500
	}
	return true
}

// EmitLogged emits and logs a failure instead of returning it, for producers whose write
// has already committed and must not fail because the Broker is away.
func (e *Emitter) EmitLogged(ctx context.Context, logger *slog.Logger, eventType, source, subject string, data any) {
	if _, err := e.Emit(ctx, eventType, source, subject, data); err != nil {
		logger.Warn("event not emitted", "event_type", eventType, "error", err.Error())
	}
}
