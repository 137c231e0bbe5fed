package diary

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xmojo/diary/shared/httpapi"
	sharedmetrics "github.com/xmojo/diary/shared/metrics"
)

// metrics holds the gateway's Prometheus collectors, in a registry of its own so that two
// gateways in one process (tests) do not collide.
type metrics struct {
	registry       *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	routes         *routeTable
}

// requestLabels label requests by group and route template, never by raw path: ids in a
// path would make a series per entry.
var requestLabels = []string{"group", "route", "method", "status"}

func newMetrics(routes *routeTable) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diary_http_requests_total",
			Help: "HTTP requests answered by the gateway, by group, route template, method and status.",
		}, requestLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "diary_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request at the gateway, by group, route template, method and status.",
			Buckets: prometheus.DefBuckets,
		}, requestLabels),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diary_upstream_errors_total",
			Help: "Proxied requests whose upstream could not be reached or did not answer in time, by group.",
		}, []string{"group"}),
		routes: routes,
	}
	// Go and process metrics come from the shared registry, served beside this one.
	m.registry.MustRegister(m.requests, m.duration, m.upstreamErrors)
	return m
}

func (m *metrics) handler() http.Handler {
	// With the shared registry (shared/metrics): the in-process groups' series in the
	// all-in-one mode; in the cluster only the gateway's own process metrics are there.
	return promhttp.HandlerFor(prometheus.Gatherers{m.registry, sharedmetrics.Registry}, promhttp.HandlerOpts{})
}

// instrument counts and times every request.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		group, route := m.routes.match(r)
		method := methodLabel(r.Method)
		rec := httpapi.NewStatusRecorder(w)
		observe := func(status int) {
			labels := prometheus.Labels{"group": group, "route": route, "method": method, "status": strconv.Itoa(status)}
			m.requests.With(labels).Inc()
			m.duration.With(labels).Observe(time.Since(start).Seconds())
		}
		defer func() {
			if p := recover(); p != nil {
				observe(http.StatusInternalServerError)
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
		status := rec.Status()
		if status == 0 {
			status = http.StatusOK
		}
		observe(status)
	})
}

// methodLabel keeps the label set bounded: a client may send any method name.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "OTHER"
}

// routeTable maps a request to its group and route template, from the OpenAPI document's
// paths: "/api/v1/entries/{id}" for /api/v1/entries/3f1c..., so the labels never carry
// ids.
type routeTable struct {
	mux    *http.ServeMux
	groups []group
}

// route is one documented operation.
type route struct {
	group  string
	method string
	path   string
}

const (
	gatewayGroup   = "gateway"
	unmatchedRoute = "unmatched"
)

func newRouteTable(routes []route, gs []group) (*routeTable, error) {
	t := &routeTable{mux: http.NewServeMux(), groups: gs}
	for _, rt := range routes {
		if err := t.add(rt); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// add registers rt.
func (t *routeTable) add(rt route) error {
	if err := handlePattern(t.mux, rt.method+" "+rt.path, routeHandler(rt.group)); err != nil {
		return fmt.Errorf("route %s %s: %w", rt.method, rt.path, err)
	}
	return nil
}

// handlePattern registers h for pattern on mux. ServeMux panics on a pattern it cannot
// parse or that conflicts with another, which becomes an error here.
func handlePattern(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// routeHandler only carries the group name for match.
type routeHandler string

func (routeHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

func (t *routeTable) match(r *http.Request) (group, route string) {
	h, pattern := t.mux.Handler(r)
	if g, ok := h.(routeHandler); ok && pattern != "" {
		_, path, _ := strings.Cut(pattern, " ")
		return string(g), path
	}
	for _, g := range t.groups {
		if g.owns(r.URL.Path) {
			return g.name, unmatchedRoute
		}
	}
	return gatewayGroup, unmatchedRoute
}
