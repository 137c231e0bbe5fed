// Package diary is the gateway function at the repository root: the public entry point of
// the API. It routes /api/v1/<group>/... to the group functions by path prefix (Knative
// routes by host, so one public host needs this), either in-process or through a reverse
// proxy to <GROUP>_URL, and serves /health, /metrics and the merged OpenAPI document.
package diary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/httpapi"
)

// Config holds the gateway's own settings. Each group's upstream is read from the variable
// the group table names (AUTH_URL, ENTRIES_URL, ...): set, the group is proxied there;
// unset, the group runs in this process with the same environment.
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
}

// Function is the gateway function.
type Function struct {
	groups  []group
	handler atomic.Pointer[http.Handler]
	// local are the groups running in this process, started by Start.
	local []localGroup
}

type localGroup struct {
	name string
	fn   any
}

// New returns the gateway. It answers 503 until Start has run.
func New() *Function {
	return &Function{groups: groups}
}

// Start reads the configuration from env, starts every group that has no upstream URL in
// this process (passing it env), and builds the routes, the metrics and the OpenAPI
// document. An error names the setting or group at fault.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	clients, err := cfg.Resolver()
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	doc, err := buildOpenAPI(cfg.PublicURL, f.groups)
	if err != nil {
		return fmt.Errorf("diary: %w", err)
	}
	m := newMetrics(doc.routes())
	mux := http.NewServeMux()
	mux.Handle("/health", getOnly(http.HandlerFunc(serveHealth)))
	mux.Handle("/metrics", getOnly(m.handler()))
	mux.Handle("/api/v1/openapi.json", getOnly(serveBytes(doc.raw, "application/json")))
	mux.Handle("/api/v1", http.HandlerFunc(serveNoRoute))
	mux.Handle("/api/v1/", http.HandlerFunc(serveNoRoute))
	mux.Handle("/", http.HandlerFunc(serveNoRoute))

	var local []localGroup
	for _, g := range f.groups {
		h, fn, err := mountGroup(ctx, g, env, cfg, m, clients)
		if err != nil {
			_ = stopGroups(ctx, local)
			return fmt.Errorf("diary: %w", err)
		}
		if fn != nil {
			local = append(local, localGroup{name: g.name, fn: fn})
		}
		mux.Handle(g.prefix(), h)
		mux.Handle(g.prefix()+"/", h)
	}
	f.local = local
	var h http.Handler = httpapi.Observe(nil, "diary", httpapi.TrimTrailingSlash(m.instrument(mux)))
	f.handler.Store(&h)
	return nil
}

// mountGroup returns the handler serving g: a reverse proxy when its URL variable is set,
// else the group's function started in-process (returned too, so Stop can reach it).
// Either way the group sees the client address clients resolves as its X-Forwarded-For.
func mountGroup(ctx context.Context, g group, env map[string]string, cfg Config, m *metrics, clients *clientip.Resolver) (http.Handler, any, error) {
	if raw := env[g.urlVar()]; raw != "" {
		target, err := upstreamURL(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", g.urlVar(), err)
		}
		return newProxy(g.name, target, cfg.UpstreamTimeout, m, clients), nil, nil
	}
	fn := g.newFunction()
	if s, ok := fn.(host.Starter); ok {
		if err := s.Start(ctx, env); err != nil {
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

// Stop stops the in-process groups.
func (f *Function) Stop(ctx context.Context) error {
	return stopGroups(ctx, f.local)
}

func stopGroups(ctx context.Context, local []localGroup) error {
	var errs []error
	for _, g := range local {
		if s, ok := g.fn.(host.Stopper); ok {
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
		r, ok := g.fn.(host.ReadinessReporter)
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

func serveHealth(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func serveNoRoute(w http.ResponseWriter, r *http.Request) {
	httpapi.Fail(w, r, httpapi.NewError(http.StatusNotFound, "not_found", "no such endpoint"))
}

func serveBytes(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// getOnly answers methods other than GET and HEAD with 405 in the error shape (ServeMux's
// own 405 is plain text).
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpapi.Fail(w, r, httpapi.NewError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
