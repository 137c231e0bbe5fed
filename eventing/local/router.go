package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/robfig/cron/v3"

	"github.com/xmojo/diary/shared/metrics"
)

// DefaultBroker is the name of the project's Broker.
const DefaultBroker = "default"

// maxEventBytes bounds an event accepted by the ingress or read back as a reply.
const maxEventBytes = 4 << 20

// defaultDeadLetterTimeout bounds a send to the dead-letter sink when the Broker's delivery
// spec sets no timeout, so a sink that hangs cannot hold Publish, Drain and Close forever.
const defaultDeadLetterTimeout = 30 * time.Second

// ErrDeadLettered is returned by Publish when a subscriber did not take an event after
// every retry, and the event went to the dead-letter sink.
var ErrDeadLettered = errors.New("local: event dead-lettered")

// Options configure a Router.
type Options struct {
	// Broker names the Broker the Router stands in for; DefaultBroker when empty.
	Broker string
	// Handlers are the in-process subscribers, by the Knative Service name that Triggers
	// (subscriber.ref.name) and the Broker's dead-letter sink use, e.g. "janitor".
	Handlers map[string]http.Handler
	// URLs are subscribers reached over the network, by Knative Service name.
	URLs map[string]string
	// Client sends to URLs and to Trigger subscriber URIs; a client without a timeout
	// (each attempt is bounded by the delivery timeout or the caller's context) when nil.
	Client *http.Client
	// Logger receives failed attempts and dead letters; slog.Default() when nil.
	Logger *slog.Logger
	// Accepted, when set, is called with each event the ingress (ServeHTTP) accepts, before
	// it answers 202, so it sees exactly the events a producer was told the Broker took.
	// cmd/diary's dev-only event tap (LOCAL_BROKER_TAP) records them with it.
	Accepted func(event.Event)
}

// Router stands in for the Broker: events published to it (by Publish, or POSTed to it as
// an http.Handler, the local K_SINK) are delivered to every Trigger whose filter matches.
// It also fires the PingSources (FirePing, RunSchedules).
type Router struct {
	broker    Broker
	routes    []route
	dlq       *target
	dlqWait   time.Duration
	pings     map[string]pingSchedule
	client    *http.Client
	logger    *slog.Logger
	base      context.Context
	cancel    context.CancelFunc
	inflight  inflight
	handlers  map[string]http.Handler
	urls      map[string]string
	namespace string
	accepted  func(event.Event)
}

type route struct {
	trigger  Trigger
	target   target
	delivery Delivery
}

// target is a resolved destination: an in-process handler or a URL.
type target struct {
	name    string
	handler http.Handler
	url     string
}

type pingSchedule struct {
	source   PingSource
	schedule cron.Schedule
}

// NewRouter builds a Router for the Broker named opts.Broker in m, with a route for each
// of its Triggers. Every Trigger's subscriber must resolve to one of opts.Handlers or
// opts.URLs (or be a URI), and every PingSource's schedule must parse: a consumer that is
// subscribed in the cluster but not mounted locally is an error, not a silent drop.
func NewRouter(m *Manifests, opts Options) (*Router, error) {
	name := opts.Broker
	if name == "" {
		name = DefaultBroker
	}
	b, ok := m.Broker(name)
	if !ok {
		return nil, fmt.Errorf("local: no Broker named %q in the manifests", name)
	}
	r := &Router{
		broker:    b,
		pings:     map[string]pingSchedule{},
		client:    opts.Client,
		logger:    opts.Logger,
		handlers:  opts.Handlers,
		urls:      opts.URLs,
		namespace: b.Namespace,
		accepted:  opts.Accepted,
	}
	if r.client == nil {
		r.client = &http.Client{}
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	for _, t := range m.Triggers {
		if t.Broker != b.Name || t.Namespace != b.Namespace {
			continue
		}
		tgt, err := r.resolve(t.Subscriber)
		if err != nil {
			return nil, fmt.Errorf("local: Trigger %s: subscriber %s: %w", t.Name, t.Subscriber, err)
		}
		d := b.Delivery
		if t.Delivery != nil {
			d = *t.Delivery
		}
		r.routes = append(r.routes, route{trigger: t, target: tgt, delivery: d})
	}
	if dls := b.Delivery.DeadLetterSink; dls != nil {
		// The dead-letter service is optional locally: without it a dead letter is logged.
		if tgt, err := r.resolve(*dls); err == nil {
			r.dlq = &tgt
		}
		r.dlqWait = defaultDeadLetterTimeout
		if d, err := ParseDuration(b.Delivery.Timeout); err == nil && d > 0 {
			r.dlqWait = d
		}
	}
	for _, p := range m.PingSources {
		if p.Namespace != b.Namespace {
			continue
		}
		sched, err := parseSchedule(p)
		if err != nil {
			return nil, fmt.Errorf("local: PingSource %s: %w", p.Name, err)
		}
		r.pings[p.Name] = pingSchedule{source: p, schedule: sched}
	}
	r.base, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func (r *Router) resolve(d Destination) (target, error) {
	if d.URI != "" && d.Ref == nil {
		return target{name: d.URI, url: d.URI}, nil
	}
	if d.Ref == nil {
		return target{}, errNoRoute
	}
	if d.Ref.Kind != "Service" {
		return target{}, fmt.Errorf("%w: the local router delivers only to Services, not %s", errNoRoute, d.Ref.Kind)
	}
	if h, ok := r.handlers[d.Ref.Name]; ok && h != nil {
		return target{name: d.Ref.Name, handler: h}, nil
	}
	if u, ok := r.urls[d.Ref.Name]; ok && u != "" {
		return target{name: d.Ref.Name, url: strings.TrimRight(u, "/") + "/" + strings.TrimLeft(d.URI, "/")}, nil
	}
	return target{}, fmt.Errorf("%w: no handler or URL for Service %q", errNoRoute, d.Ref.Name)
}

// Publish delivers ev to every matching subscriber, with the Broker's retries, and returns
// once each delivery has succeeded or been dead-lettered; the error then wraps
// ErrDeadLettered. Reply events from subscribers are published in the background.
func (r *Router) Publish(ctx context.Context, ev event.Event) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("local: publish: invalid event: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	matched := 0
	for _, rt := range r.routes {
		if !matches(rt.trigger.Filter, ev) {
			continue
		}
		matched++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.deliver(ctx, rt, ev); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if matched == 0 {
		r.logger.Debug("event matched no trigger", "event_id", ev.ID(), "event_type", ev.Type())
	}
	return errors.Join(errs...)
}

// ServeHTTP is the Broker ingress: it accepts a CloudEvent POSTed in binary or structured
// mode, answers 202 Accepted, and delivers it in the background as Publish does. Point
// K_SINK at wherever this handler is mounted.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "the broker ingress accepts only POST", http.StatusMethodNotAllowed)
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, maxEventBytes)
	ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
	if err != nil {
		http.Error(w, "the body is not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := ev.Validate(); err != nil {
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.base.Err() != nil {
		http.Error(w, "the broker is shutting down", http.StatusServiceUnavailable)
		return
	}
	if r.accepted != nil {
		r.accepted(*ev)
	}
	r.publishAsync(*ev)
	w.WriteHeader(http.StatusAccepted)
}

// publishAsync delivers ev in the background, detached from the caller, as the Broker
// does after its ingress has answered.
func (r *Router) publishAsync(ev event.Event) {
	r.inflight.add()
	go func() {
		defer r.inflight.done()
		// A failure is logged as a dead letter per subscriber; nobody waits for the result.
		_ = r.Publish(r.base, ev)
	}()
}

// Drain waits for the events accepted by the ingress to be delivered or dead-lettered.
// When ctx ends first, it cancels the deliveries still running and returns ctx's error.
func (r *Router) Drain(ctx context.Context) error {
	select {
	case <-r.inflight.idle():
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.inflight.idle()
		return fmt.Errorf("local: drain: %w", ctx.Err())
	}
}

// Close cancels the deliveries still running in the background and refuses new events.
func (r *Router) Close() {
	r.cancel()
	<-r.inflight.idle()
}

// inflight counts background deliveries. Unlike a sync.WaitGroup it may go from zero to
// one while someone waits, as the ingress accepts events during a Drain.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to zero
}

func (c *inflight) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.zero = make(chan struct{})
	}
	c.n++
}

func (c *inflight) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 {
		close(c.zero)
	}
}

// idle returns a channel closed once no delivery is in flight.
func (c *inflight) idle() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return c.zero
}

// deliver sends ev to one route, retrying per the route's delivery spec, and dead-letters
// it when every attempt failed or the subscriber refused it for good.
func (r *Router) deliver(ctx context.Context, rt route, ev event.Event) error {
	retries := rt.delivery.Retries()
	var timeout time.Duration
	if rt.delivery.Timeout != "" {
		timeout, _ = ParseDuration(rt.delivery.Timeout)
	}
	var (
		status int
		err    error
	)
	for attempt := 0; ; attempt++ {
		var reply *event.Event
		status, reply, err = r.send(ctx, rt.target, ev, timeout)
		if err == nil && status >= 200 && status < 300 {
			if reply != nil {
				r.publishAsync(*reply)
			}
			return nil
		}
		if err == nil {
			err = fmt.Errorf("subscriber answered %d", status)
		}
		r.logger.Warn("event delivery failed",
			"event_id", ev.ID(), "event_type", ev.Type(), "trigger", rt.trigger.Name,
			"subscriber", rt.target.name, "attempt", attempt+1, "status", status, "error", err.Error())
		if !retryable(status) || attempt >= retries || ctx.Err() != nil {
			break
		}
		wait, _ := rt.delivery.Backoff(attempt)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
	}
	r.deadLetter(ctx, rt, ev, status, err)
	return fmt.Errorf("%w: trigger %s, subscriber %s, event %s: %w", ErrDeadLettered, rt.trigger.Name, rt.target.name, ev.ID(), err)
}

// retryable follows Knative's choice (kncloudevents.SelectiveRetry): network errors, 404
// (a pod becoming ready), 408, 409, 429 and 5xx are retried; other answers are final.
func retryable(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusNotFound ||
		status == http.StatusRequestTimeout || status == http.StatusConflict || status == http.StatusTooManyRequests
}

// deadLetter logs the event's attributes (never its data) and, when the dead-letter
// Service is mounted locally, sends it there with Knative's error extensions.
func (r *Router) deadLetter(ctx context.Context, rt route, ev event.Event, status int, cause error) {
	metrics.DeadLettered(ev.Type())
	r.logger.Error("event dead-lettered",
		"event_id", ev.ID(), "event_type", ev.Type(), "event_source", ev.Source(), "event_subject", ev.Subject(),
		"trigger", rt.trigger.Name, "subscriber", rt.target.name, "status", status, "error", cause.Error())
	if r.dlq == nil {
		return
	}
	dead := ev.Clone()
	dead.SetExtension("knativeerrordest", rt.target.name)
	dead.SetExtension("knativeerrorcode", status)
	if st, _, err := r.send(context.WithoutCancel(ctx), *r.dlq, dead, r.dlqWait); err != nil || st < 200 || st >= 300 {
		r.logger.Error("dead-letter sink refused the event", "event_id", ev.ID(), "status", st)
	}
}

// send posts ev in CloudEvents binary mode to t and returns the status and the reply
// event, if the subscriber answered with one.
func (r *Router) send(ctx context.Context, t target, ev event.Event, timeout time.Duration) (int, *event.Event, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	url := t.url
	if t.handler != nil {
		url = "http://" + t.name + "." + r.namespace + ".svc.cluster.local/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return 0, nil, fmt.Errorf("encode event: %w", err)
	}
	var resp *http.Response
	if t.handler != nil {
		resp = serveInProcess(t.handler, req)
	} else {
		resp, err = r.client.Do(req)
		if err != nil {
			return 0, nil, err
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, nil, nil
	}
	msg := cehttp.NewMessage(resp.Header, io.NopCloser(bytes.NewReader(body)))
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return resp.StatusCode, nil, nil
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err != nil {
		r.logger.Warn("subscriber replied with an unreadable event", "subscriber", t.name, "error", err.Error())
		return resp.StatusCode, nil, nil
	}
	return resp.StatusCode, reply, nil
}

// serveInProcess runs req through h as a server would and returns the response. A panic
// in h becomes a 500, as it would be for a separate process behind the Broker.
func serveInProcess(h http.Handler, req *http.Request) (resp *http.Response) {
	rec := &recorder{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				rec.status = http.StatusBadGateway
			} else {
				rec.status = http.StatusInternalServerError
			}
			rec.body.Reset()
		}
		resp = rec.response(req)
	}()
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	h.ServeHTTP(rec, req)
	return resp
}

// recorder is the http.ResponseWriter given to an in-process subscriber.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rw *recorder) Header() http.Header { return rw.header }

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
}

func (rw *recorder) Write(p []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	if rw.body.Len()+len(p) > maxEventBytes {
		return 0, errors.New("local: answer too large")
	}
	return rw.body.Write(p)
}

func (rw *recorder) response(req *http.Request) *http.Response {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return &http.Response{
		StatusCode: rw.status,
		Status:     http.StatusText(rw.status),
		Header:     rw.header,
		Body:       io.NopCloser(bytes.NewReader(rw.body.Bytes())),
		Request:    req,
	}
}

// matches applies a Trigger's attribute filter: every attribute named must be present and
// equal; an empty value matches any non-empty value (Knative's TriggerAnyFilter).
func matches(filter map[string]string, ev event.Event) bool {
	for name, want := range filter {
		got, ok := attribute(ev, name)
		if !ok || got == "" {
			return false
		}
		if want != "" && got != want {
			return false
		}
	}
	return true
}

// attribute returns a context attribute or extension of ev as a string.
func attribute(ev event.Event, name string) (string, bool) {
	switch strings.ToLower(name) {
	case "specversion":
		return ev.SpecVersion(), true
	case "id":
		return ev.ID(), true
	case "type":
		return ev.Type(), true
	case "source":
		return ev.Source(), true
	case "subject":
		return ev.Subject(), true
	case "datacontenttype":
		return ev.DataContentType(), true
	case "dataschema":
		return ev.DataSchema(), true
	case "time":
		if ev.Time().IsZero() {
			return "", true
		}
		return ev.Time().UTC().Format(time.RFC3339Nano), true
	}
	v, ok := ev.Extensions()[strings.ToLower(name)]
	if !ok {
		return "", false
	}
	s, err := types.Format(v)
	if err != nil {
		return "", false
	}
	return s, true
}
