// Package metrics owns the Prometheus metrics the functions export besides the gateway's
// request series: one registry per process (Registry), the collectors, each named once
// here, and the listener that serves them on a port of their own (Serve). The shared
// packages record into it where the thing happens (a job fails in shared/job, a query in
// shared/store, an S3 call in shared/objstore, a costly-computation slot in shared/crypto,
// a function starts in shared/platform), so every function that uses them exports the
// same series without code of its own. knative/monitoring's dashboard and alerts use
// these names, and its test checks them against the code.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds this process's collectors below, and Go and process metrics. In the
// all-in-one process (cmd/diary) the gateway's listener serves it beside its own.
var Registry = prometheus.NewRegistry()

func register[C prometheus.Collector](c C) C {
	Registry.MustRegister(c)
	return c
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

var (
	// FunctionStarted is the Unix time a function of this process finished starting, by
	// function: a series appears per pod start, so counting recent ones counts cold starts.
	FunctionStarted = register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "diary_function_started_timestamp_seconds",
		Help: "Unix time at which the function finished starting in this process (one series per pod: recent ones are cold starts).",
	}, []string{"function"}))

	// JobFailures counts background jobs that ended failed (shared/job.Fail), by kind.
	JobFailures = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_job_failures_total",
		Help: "Background jobs that ended failed, by kind.",
	}, []string{"kind"}))

	// JobLastSuccess is the Unix time a job of the kind last succeeded in this process.
	JobLastSuccess = register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "diary_job_last_success_timestamp_seconds",
		Help: "Unix time at which a background job of the kind last succeeded in this process.",
	}, []string{"kind"}))

	// DBErrors counts PostgreSQL failures that are no answer about the data (not a missing
	// row or a conflict): the database unreachable, a query refused, by class.
	DBErrors = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_db_errors_total",
		Help: "PostgreSQL operations that failed for a reason other than not found or conflict, by class (unavailable, error).",
	}, []string{"class"}))

	// S3Errors counts S3 calls that failed (a missing object is an answer, not counted),
	// by operation.
	S3Errors = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_s3_errors_total",
		Help: "S3 calls that failed, by operation (a missing object is not a failure).",
	}, []string{"operation"}))

	// BoundSlots is the size of each costly-computation bound (argon2id, bcrypt).
	BoundSlots = register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "diary_bound_slots",
		Help: "Slots of a costly-computation bound (argon2id, bcrypt) in this process.",
	}, []string{"bound"}))

	// BoundInUse is how many of a bound's slots are taken now.
	BoundInUse = register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "diary_bound_slots_in_use",
		Help: "Slots of a costly-computation bound taken now.",
	}, []string{"bound"}))

	// BoundTimeouts counts waits for a slot that ran out of time (answered 503).
	BoundTimeouts = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_bound_wait_timeouts_total",
		Help: "Waits for a slot of a costly-computation bound that ran out of time (the request answered 503).",
	}, []string{"bound"}))

	// DeadLetters counts events that reached a dead-letter sink of ours, by type.
	DeadLetters = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_dead_letters_total",
		Help: "Events given up after the Broker's retries and delivered to the dead-letter sink, by type.",
	}, []string{"type"}))

	// IntegrationsReauth counts integrations found needing the user to authorise them
	// again (a provider refused the stored token), by provider. The integrations code
	// records it with IntegrationNeedsReauth.
	IntegrationsReauth = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_integrations_reauth_required_total",
		Help: "Integrations found needing the user to authorise them again, by provider.",
	}, []string{"provider"}))
	// OutboxSent counts outbox rows the Broker accepted (eventing/outbox's relay), by type.
	OutboxSent = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_outbox_sent_total",
		Help: "Outbox rows (events) the Broker accepted from this process's relay, by type.",
	}, []string{"type"}))

	// OutboxSendFailures counts sends of outbox rows that failed (the row is retried after
	// a backoff), by type.
	OutboxSendFailures = register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "diary_outbox_send_failures_total",
		Help: "Sends of outbox rows that failed and will be retried after a backoff, by type.",
	}, []string{"type"}))

	// OutboxBacklog is how many outbox rows were undelivered when this process's relay
	// last measured (the whole table, every function's rows).
	OutboxBacklog = register(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "diary_outbox_backlog",
		Help: "Undelivered outbox rows (the whole table) when this process's relay last measured.",
	}))

	// OutboxOldestAge is the age in seconds of the oldest undelivered outbox row when this
	// process's relay last measured; 0 when none was undelivered.
	OutboxOldestAge = register(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "diary_outbox_oldest_undelivered_age_seconds",
		Help: "Age of the oldest undelivered outbox row when this process's relay last measured (0: none).",
	}))
)

// Started records that function finished starting now.
func Started(function string) {
	FunctionStarted.WithLabelValues(function).Set(float64(time.Now().UnixNano()) / 1e9)
}

// JobFailed records a job of kind ending failed.
func JobFailed(kind string) { JobFailures.WithLabelValues(kind).Inc() }

// JobSucceeded records a job of kind succeeding now.
func JobSucceeded(kind string) {
	JobLastSuccess.WithLabelValues(kind).Set(float64(time.Now().UnixNano()) / 1e9)
}

// IntegrationNeedsReauth records that an integration of provider needs the user to
// authorise it again.
func IntegrationNeedsReauth(provider string) { IntegrationsReauth.WithLabelValues(provider).Inc() }

// DeadLettered records an event of type eventType given up and dead-lettered.
func DeadLettered(eventType string) { DeadLetters.WithLabelValues(eventType).Inc() }

// Handler serves Registry and the extra gatherers, as /metrics does.
func Handler(extra ...prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(append(prometheus.Gatherers{Registry}, extra...), promhttp.HandlerOpts{})
}

// Listener is a metrics listener started by Serve.
type Listener struct {
	srv  *http.Server
	addr string
}

// Serve serves GET /metrics (Registry) on addr, a listener apart from the function's own,
// which the public host never reaches (see README, Metrics).
func Serve(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: METRICS_ADDRESS: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The function keeps serving without metrics.
			slog.Error("metrics listener stopped", "address", ln.Addr().String(), "error", err.Error())
		}
	}()
	return &Listener{srv: srv, addr: ln.Addr().String()}, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() string { return l.addr }

// Close stops the listener.
func (l *Listener) Close(ctx context.Context) error {
	if err := l.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("metrics: close: %w", err)
	}
	return nil
}
