package diary

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
)

// CORS for web clients served from another origin than the API. The gateway answers it
// once for every group: a preflight (OPTIONS with Origin and Access-Control-Request-Method)
// on an /api/v1 path is answered here and never reaches a group, so it needs no token and
// runs no function's auth; every other answer to an allowed origin, errors included, gets
// its Access-Control-* headers here as it leaves. The methods a preflight allows come
// from the served OpenAPI document (one source of truth with the routes the groups
// serve), so a new group's paths are covered without an edit here.

// corsMaxAge is how long a browser may reuse a preflight's answer: long enough to spare a
// round trip on most calls, short enough that a removed origin loses access soon
// (Chromium caps it at 2 hours anyway).
const corsMaxAge = 10 * 60

// corsAllowHeaders are the request headers a client may send beyond the CORS-safelisted
// ones: the token, JSON bodies, conditional requests and idempotent creates.
const corsAllowHeaders = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key"

// corsExposeHeaders are the answer headers a browser client reads: an entry's version, a
// created resource, how long to back off (429, 503) and an export's file name.
const corsExposeHeaders = "ETag, Location, Retry-After, Content-Disposition"

// errOriginNotAllowed answers a preflight from an origin CORS_ALLOWED_ORIGINS does not name.
var errOriginNotAllowed = httpapi.NewError(http.StatusForbidden, "origin_not_allowed",
	"this origin may not call the API from a browser")

// corsPolicy is the gateway's CORS: the allowed origins and the methods of each documented
// /api/v1 path.
type corsPolicy struct {
	origins map[string]bool
	// paths matches a request path to a documented path the way the groups' muxes do (a
	// literal segment wins over a wildcard); its handler carries the path's methods.
	paths *http.ServeMux
}

// pathMethods carries the Access-Control-Allow-Methods value of one documented path.
type pathMethods string

func (pathMethods) ServeHTTP(http.ResponseWriter, *http.Request) {}

// newCORSPolicy builds the policy for origins (CORS_ALLOWED_ORIGINS, each checked by
// parseOrigin) over the document's routes.
func newCORSPolicy(origins []string, routes []route) (*corsPolicy, error) {
	p := &corsPolicy{origins: map[string]bool{}, paths: http.NewServeMux()}
	for _, o := range origins {
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %w", err)
		}
		p.origins[o] = true
	}
	methods := map[string][]string{}
	for _, rt := range routes {
		if !underAPI(rt.path) {
			continue
		}
		methods[rt.path] = append(methods[rt.path], rt.method)
		if rt.method == http.MethodGet {
			// Every function answers HEAD wherever it answers GET (ServeMux does).
			methods[rt.path] = append(methods[rt.path], http.MethodHead)
		}
	}
	for path, ms := range methods {
		slices.Sort(ms)
		if err := handlePattern(p.paths, path, pathMethods(strings.Join(slices.Compact(ms), ", "))); err != nil {
			return nil, fmt.Errorf("cors: path %s: %w", path, err)
		}
	}
	return p, nil
}

// checkOrigin accepts an origin exactly as a browser sends it in the Origin header:
// scheme://host[:port], http or https, lower case, no default port, no path, no wildcard.
// Anything else could never match and would only hide a typo.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("%q is not an origin: want scheme://host[:port], http or https, with no path", o)
	}
	if strings.Contains(o, "*") {
		return fmt.Errorf("%q: wildcards are not allowed, list each origin", o)
	}
	if o != strings.ToLower(o) {
		return fmt.Errorf("%q: write the origin in lower case, as browsers send it", o)
	}
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") || (port == "" && strings.HasSuffix(u.Host, ":")) {
		return fmt.Errorf("%q: leave out the scheme's default port, as browsers do", o)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return fmt.Errorf("%q: bad port", o)
		}
	}
	return nil
}

// underAPI reports whether path is /api/v1 or below it: what CORS covers.
func underAPI(path string) bool {
	return path == "/api/v1" || strings.HasPrefix(path, "/api/v1/")
}

// isPreflight reports whether r is a CORS preflight: OPTIONS with an Origin and the
// method the browser asks about.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// handler applies the policy in front of next. Paths outside /api/v1 are left alone.
func (p *corsPolicy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !underAPI(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		// The answer depends on Origin for every request, allowed or not.
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		allowed := origin != "" && p.origins[origin]
		if isPreflight(r) {
			p.preflight(w, r, allowed)
			return
		}
		if !allowed {
			origin = ""
		}
		next.ServeHTTP(&corsWriter{ResponseWriter: w, origin: origin}, r)
	})
}

// preflight answers a preflight itself. From an origin not allowed: 403 in the error
// shape with no Access-Control-Allow-Origin, so the browser sends nothing further. For a
// path no group documents: 404 (a browser treats it as a failed preflight). Otherwise 204
// with the path's methods and the headers a client may send.
func (p *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, allowed bool) {
	if !allowed {
		httpapi.Fail(w, r, errOriginNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	methods, _ := p.paths.Handler(r)
	m, ok := methods.(pathMethods)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNoRoute)
		return
	}
	h.Set("Access-Control-Allow-Methods", string(m))
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
	w.WriteHeader(http.StatusNoContent)
}

// corsWriter sets the CORS headers of an actual answer as its headers leave, whoever
// wrote the answer (an in-process group, an upstream through the proxy, the gateway's own
// error): set then, they replace anything an upstream sent under those names, so the
// gateway is the one place that decides them. With no origin (none sent, or one not
// allowed) it only removes them.
type corsWriter struct {
	http.ResponseWriter
	origin string
	done   bool
}

func (c *corsWriter) setHeaders(final bool) {
	if c.done {
		return
	}
	// An informational answer (1xx) is followed by the final one, which gets them too.
	c.done = final
	h := c.ResponseWriter.Header()
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(h, name)
		}
	}
	if c.origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", c.origin)
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if !slices.ContainsFunc(h.Values("Vary"), func(v string) bool { return strings.Contains(v, "Origin") }) {
		h.Add("Vary", "Origin")
	}
}

// WriteHeader sets the CORS headers, then writes the status.
func (c *corsWriter) WriteHeader(code int) {
	c.setHeaders(code >= 200)
	c.ResponseWriter.WriteHeader(code)
}

// Write sets the CORS headers when no status was written, then writes b.
func (c *corsWriter) Write(b []byte) (int, error) {
	c.setHeaders(true)
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath (flushes, deadlines).
func (c *corsWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
