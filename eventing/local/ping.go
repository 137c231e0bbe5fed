package local

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"

	"github.com/xmojo/diary/eventing"
)

// PingType is the CloudEvent type of every PingSource tick.
const PingType = "dev.knative.sources.ping"

// PingSourceURI is the CloudEvent source Knative gives the ticks of the PingSource named
// name in namespace.
func PingSourceURI(namespace, name string) string {
	return eventing.PingSourceURI(namespace, name)
}

// cronParser accepts what Knative's PingSource validation accepts: five fields (or six
// with seconds), descriptors such as @daily, and a CRON_TZ= prefix.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func parseSchedule(p PingSource) (cron.Schedule, error) {
	if strings.Contains(p.Schedule, "@every") {
		return nil, errors.New("schedule: the @every descriptor is not supported by PingSource")
	}
	spec := p.Schedule
	if p.Timezone != "" {
		spec = "CRON_TZ=" + p.Timezone + " " + spec
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q in time zone %q: %w", p.Schedule, p.Timezone, err)
	}
	return s, nil
}

// NextFiring returns when the PingSource fires next after t, in its own time zone.
func NextFiring(p PingSource, t time.Time) (time.Time, error) {
	s, err := parseSchedule(p)
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(t), nil
}

// PingEvent returns the event p sends when it fires at t: what Knative's PingSource
// adapter sends (type dev.knative.sources.ping, source /apis/v1/namespaces/<ns>/
// pingsources/<name>, a fresh UUID, the data with the content type, the ceOverrides
// extensions), with t as its time.
func PingEvent(p PingSource, t time.Time) (event.Event, error) {
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(PingType)
	ev.SetSource(PingSourceURI(p.Namespace, p.Name))
	ev.SetTime(t.UTC())
	for k, v := range p.Extensions {
		ev.SetExtension(k, v)
	}
	var data []byte
	switch {
	case p.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(p.DataBase64)
		if err != nil {
			return event.Event{}, fmt.Errorf("local: PingSource %s: dataBase64: %w", p.Name, err)
		}
		data = b
	case p.Data != "":
		data = []byte(p.Data)
	}
	if data != nil {
		if err := ev.SetData(p.ContentType, data); err != nil {
			return event.Event{}, fmt.Errorf("local: PingSource %s: data: %w", p.Name, err)
		}
	}
	return ev, nil
}

// FirePing sends, right now, the event the PingSource named name would send, to its sink,
// and returns it once delivered. The error wraps ErrDeadLettered when a subscriber did
// not take it after every retry.
func (r *Router) FirePing(ctx context.Context, name string) (event.Event, error) {
	ps, ok := r.pings[name]
	if !ok {
		return event.Event{}, fmt.Errorf("local: no PingSource named %q", name)
	}
	return r.fire(ctx, ps.source, time.Now())
}

func (r *Router) fire(ctx context.Context, p PingSource, at time.Time) (event.Event, error) {
	ev, err := PingEvent(p, at)
	if err != nil {
		return event.Event{}, err
	}
	sink := p.Sink
	if sink.Ref != nil && sink.Ref.Kind == "Broker" {
		if sink.Ref.Name != r.broker.Name {
			return ev, fmt.Errorf("local: PingSource %s: sink Broker %q is not %q", p.Name, sink.Ref.Name, r.broker.Name)
		}
		if err := r.Publish(ctx, ev); err != nil {
			return ev, fmt.Errorf("local: PingSource %s: %w", p.Name, err)
		}
		return ev, nil
	}
	// A PingSource aimed straight at a Service: one delivery, as the adapter makes.
	tgt, err := r.resolve(sink)
	if err != nil {
		return ev, fmt.Errorf("local: PingSource %s: sink %s: %w", p.Name, sink, err)
	}
	rt := route{trigger: Trigger{Name: "pingsource-" + p.Name}, target: tgt}
	if err := r.deliver(ctx, rt, ev); err != nil {
		return ev, fmt.Errorf("local: PingSource %s: %w", p.Name, err)
	}
	return ev, nil
}

// PingSources returns the names of the PingSources the Router fires.
func (r *Router) PingSources() []string {
	names := make([]string, 0, len(r.pings))
	for n := range r.pings {
		names = append(names, n)
	}
	return names
}

// RunSchedules fires every PingSource on its schedule, in its time zone, until ctx ends,
// then waits for the firings in progress. Run it in its own goroutine.
func (r *Router) RunSchedules(ctx context.Context) {
	c := cron.New(cron.WithLocation(time.UTC))
	for name, ps := range r.pings {
		p := ps.source
		c.Schedule(ps.schedule, cron.FuncJob(func() {
			ev, err := r.fire(ctx, p, time.Now())
			if err != nil {
				r.logger.Error("scheduled ping failed", "ping_source", name, "event_id", ev.ID(), "error", err.Error())
				return
			}
			r.logger.Info("scheduled ping delivered", "ping_source", name, "event_id", ev.ID())
		}))
		r.logger.Info("ping source scheduled", "ping_source", name, "schedule", p.Schedule,
			"timezone", p.Timezone, "next", ps.schedule.Next(time.Now()).UTC().Format(time.RFC3339))
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}
