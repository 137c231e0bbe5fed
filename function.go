// Package diary is the gateway function at the repository root: the public entry point of
// the API. It routes /api/v1/<group>/... to the group functions by path prefix (Knative
// routes by host, so one public host needs this) through a reverse proxy to <GROUP>_URL,
// and serves /health, the OpenAPI document (openapi.json, generated from the functions'
// fragments and committed) and the interactive reference that renders it (/api/v1/docs,
// package apidocs). It answers CORS for browser clients of other origins (cors.go). Prometheus metrics are served on a listener of their own
// (METRICS_ADDRESS), which the public host does not reach.
//
// The gateway imports no function and holds no secret. cmd/diary, the local all-in-one
// runner, hands it the functions to run in its own process instead (NewInProcess).
package diary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xmojo/diary/apidocs"
	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/httpapi"
	sharedmetrics "github.com/xmojo/diary/shared/metrics"
)

// Config holds the gateway's own settings. Each group's upstream is read from the variable
// the group table names (AUTH_URL, ENTRIES_URL, ...).
type Config struct {
	// UpstreamTimeout bounds the wait for an upstream's response headers. It is generous
	// because a scaled-to-zero function answers only after its cold start, and it must
	// exceed platform.RequestBudget (the longest a function works on a request, auth's
	// bounded waits included) so the gateway never gives up while a function still works.
	UpstreamTimeout time.Duration `envconfig:"UPSTREAM_TIMEOUT" default:"30s"`
	// ProxyTrust is TRUSTED_PROXIES and TRUSTED_PROXY_HOPS: whose X-Forwarded-For the
	// gateway believes when it resolves the client address it forwards to the groups.
	clientip.ProxyTrust
	// PublicURL is the API's public base URL, given to clients as the OpenAPI server.
	PublicURL string `envconfig:"PUBLIC_URL"`
	// MetricsAddress is where Prometheus scrapes /metrics: a listener apart from the API's
	// (LISTEN_ADDRESS), on a port the DomainMapping does not expose. 9464 is free of the
	// ports Knative's queue-proxy takes in the same pod (8012, 8013, 8022, 9090, 9091).
	MetricsAddress string `envconfig:"METRICS_ADDRESS" default:":9464"`
	// CORSAllowedOrigins are the origins (scheme://host[:port], exactly as browsers send
	// them) whose web clients may call the API from a browser; none by default. No
	// wildcard: tokens and entries reach only the origins the operator named (cors.go).
	CORSAllowedOrigins []string `envconfig:"CORS_ALLOWED_ORIGINS"`
}

// Function is the gateway function.
type Function struct {
	groups []group
	// inProcess are the functions to run in this process, by group (NewInProcess).
	inProcess map[string]HTTPFunction
	handler   atomic.Pointer[http.Handler]
	// local are the groups running in this process, started by Start.
	local   []localGroup
	metrics *metricsListener
}

type localGroup struct {
	name string
	fn   HTTPFunction
}

// New returns the gateway as the cluster runs it: every group is proxied to its
// <GROUP>_URL, which must be set. It answers 503 until Start has run.
func New() *Function {
	return &Function{groups: groups}
}

// NewInProcess returns a gateway that runs fns, by group name, in its own process: the
// local all-in-one mode of cmd/diary. A group whose <GROUP>_URL is set is still proxied;
// Start starts the others' functions with the same environment and Stop stops them.
func NewInProcess(fns map[string]HTTPFunction) *Function {
	return &Function{groups: groups, inProcess: fns}
}

// Start reads the configuration from env, starts the in-process groups, and builds the
// routes, the metrics listener and the OpenAPI document. An error names the setting or
// group at fault.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	for name := range f.inProcess {
		if !f.hasGroup(name) {
			return fmt.Errorf("diary: no group %s to run in-process", name)
		}
	}
	clients, err := cfg.Resolver()
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	doc, err := serveOpenAPI(cfg.PublicURL)
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	cors, err := newCORSPolicy(cfg.CORSAllowedOrigins, doc.operations)
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	m := newMetrics(doc.routes())
	mux := http.NewServeMux()
	mux.Handle("/health", getOnly(http.HandlerFunc(serveHealth)))
	mux.Handle("/api/v1/openapi.json", getOnly(serveBytes(doc.raw, "application/json")))
	docs, err := apidocs.Handler(cfg.PublicURL, http.HandlerFunc(serveNoRoute))
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	mux.Handle(apidocs.BasePath, getOnly(docs))
	mux.Handle(apidocs.BasePath+"/", getOnly(docs))
	mux.Handle("/api/v1", http.HandlerFunc(serveNoRoute))
	mux.Handle("/api/v1/", http.HandlerFunc(serveNoRoute))
	mux.Handle("/", http.HandlerFunc(serveNoRoute))

	ml, err := listenMetrics(cfg.MetricsAddress, m.handler())
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	var local []localGroup
	for _, g := range f.groups {
		h, fn, err := f.mountGroup(ctx, g, env, cfg, m, clients)
		if err != nil {
			_ = stopGroups(ctx, local)
			_ = ml.close(ctx)
			return fmt.Errorf("diary: %w", err)
		}
		if fn != nil {
			local = append(local, localGroup{name: g.name, fn: fn})
		}
		for _, p := range g.prefixes() {
			mux.Handle(p, h)
			mux.Handle(p+"/", h)
		}
	}
	f.local, f.metrics = local, ml
	sharedmetrics.Started("diary")
	var h http.Handler = httpapi.Observe(nil, "diary", httpapi.TrimTrailingSlash(m.instrument(cors.handler(refuseEncodedDotSegments(mux)))))
	f.handler.Store(&h)
	return nil
}

func (f *Function) hasGroup(name string) bool {
	for _, g := range f.groups {
		if g.name == name {
			return true
		}
	}
	return false
}

// mountGroup returns the handler serving g: a reverse proxy when its URL variable is set,
// else the group's in-process function, started (returned too, so Stop can reach it).
// Either way the group sees the client address clients resolves as its X-Forwarded-For.
func (f *Function) mountGroup(ctx context.Context, g group, env map[string]string, cfg Config, m *metrics, clients *clientip.Resolver) (http.Handler, HTTPFunction, error) {
	if raw := env[g.urlVar()]; raw != "" {
		target, err := upstreamURL(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", g.urlVar(), err)
		}
		return followUpstream(newProxy(g.name, target, cfg.UpstreamTimeout, m, clients)), nil, nil
	}
	fn, ok := f.inProcess[g.name]
	if !ok {
		return nil, nil, fmt.Errorf("%s is required: the URL of the %s function", g.urlVar(), g.name)
	}
	if s, ok := fn.(starter); ok {
		// The group shares this process and so the shared metrics registry, which the
		// gateway's own listener serves: it must not open a second one on the address.
		groupEnv := maps.Clone(env)
		delete(groupEnv, "METRICS_ADDRESS")
		if err := s.Start(ctx, groupEnv); err != nil {
			return nil, nil, fmt.Errorf("start %s in-process (or set %s): %w", g.name, g.urlVar(), err)
		}
	}
	return forwardClient(clients, http.HandlerFunc(fn.Handle)), fn, nil
}

// upstreamURL checks an upstream setting: an absolute http(s) URL without query or
// fragment. The error never quotes the value.
func upstreamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must be an absolute http:// or https:// URL without query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// followUpstream lets a proxied answer take as long as its upstream allows: the client
// connection's write deadline moves forward by httpapi.WriteTimeout with each chunk the
// upstream sends. An ordinary answer is still bounded, by the upstream's own WriteTimeout;
// a streamed one (the archive export), whose handler keeps moving its deadline, passes
// through whole instead of being cut at the gateway's.
func followUpstream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&deadlineFollower{ResponseWriter: w, rc: http.NewResponseController(w)}, r)
	})
}

// deadlineFollower moves the write deadline before each write.
type deadlineFollower struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (d *deadlineFollower) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(httpapi.WriteTimeout))
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath (the proxy flushes).
func (d *deadlineFollower) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// Stop stops the metrics listener and the in-process groups.
func (f *Function) Stop(ctx context.Context) error {
	var errs []error
	if f.metrics != nil {
		errs = append(errs, f.metrics.close(ctx))
	}
	errs = append(errs, stopGroups(ctx, f.local))
	return errors.Join(errs...)
}

func stopGroups(ctx context.Context, local []localGroup) error {
	var errs []error
	for _, g := range local {
		if s, ok := g.fn.(stopper); ok {
			if err := s.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("diary: stop %s: %w", g.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ready reports whether every in-process group is ready. Proxied groups are not probed:
// probing would wake functions that scale to zero, and the proxy answers 503 for one that
// is down.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	if f.handler.Load() == nil {
		return false, errors.New("diary: not started")
	}
	for _, g := range f.local {
		r, ok := g.fn.(readinessReporter)
		if !ok {
			continue
		}
		if ready, err := r.Ready(ctx); !ready || err != nil {
			if err == nil {
				err = errors.New("not ready")
			}
			return false, fmt.Errorf("diary: %s: %w", g.name, err)
		}
	}
	return true, nil
}

// Alive reports that the process can serve.
func (f *Function) Alive(ctx context.Context) (bool, error) {
	return true, nil
}

// Handle serves a request.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	h := f.handler.Load()
	if h == nil {
		httpapi.Fail(w, r, httpapi.Unavailable("the gateway is starting, try again shortly"))
		return
	}
	(*h).ServeHTTP(w, r)
}

// MetricsAddress returns the address the metrics listener listens on once Start has run
// (with the port chosen when METRICS_ADDRESS asked for port 0), else "".
func (f *Function) MetricsAddress() string {
	if f.metrics == nil {
		return ""
	}
	return f.metrics.addr
}

// metricsListener serves /metrics on its own port.
type metricsListener struct {
	srv  *http.Server
	addr string
}

// listenMetrics starts serving metrics on addr: GET /metrics and nothing else.
func listenMetrics(addr string, metrics http.Handler) (*metricsListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDRESS: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := httpapi.NewServer(addr, mux)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics listener stopped", "error", err.Error())
		}
	}()
	return &metricsListener{srv: srv, addr: ln.Addr().String()}, nil
}

func (l *metricsListener) close(ctx context.Context) error {
	if err := l.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("diary: metrics listener: %w", err)
	}
	return nil
}

// refuseEncodedDotSegments answers 404 for a path that is clean only as spelled: the mux
// cleans (and redirects) the escaped path, so /api/v1/media/%2e%2e/auth/login reached the
// media group with /api/v1/media/../auth/login as its path, and went to its upstream as
// sent. No route of the API has a "." or ".." segment (or an empty one).
func refuseEncodedDotSegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; r.URL.RawPath != "" && strings.HasPrefix(p, "/") && path.Clean(p) != p {
			serveNoRoute(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func serveHealth(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func serveNoRoute(w http.ResponseWriter, r *http.Request) {
	httpapi.Fail(w, r, httpapi.ErrNoRoute)
}

func serveBytes(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// getOnly answers methods other than GET and HEAD with the 405 every function answers
// (ServeMux's own 405 is plain text).
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.Fail(w, r, httpapi.ErrMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
