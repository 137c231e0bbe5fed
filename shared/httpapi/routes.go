package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/xmojo/diary/shared/token"
)

// Route is one row of a function's route table.
type Route struct {
	// Method is the route's HTTP method. A GET route answers HEAD too, as ServeMux does.
	Method string
	// Path is below the table's base path, with ServeMux wildcards ("/{id}/history"); ""
	// is the base path itself.
	Path string
	// Handler serves the route.
	Handler http.HandlerFunc
	// Public marks a route that needs no access token (signup, login). Every other route
	// runs behind Authenticate, so its handler always finds a Caller.
	Public bool
}

// RouteTable is a function's one route table and what serving it needs.
type RouteTable struct {
	// Service names the function in the access log.
	Service string
	// BasePath is where the gateway mounts the function ("/api/v1/entries"); the function
	// serves full paths.
	BasePath string
	// Logger is the base of every request's logger; nil means slog.Default().
	Logger *slog.Logger
	// Verifier and Sessions authenticate the routes that are not Public.
	Verifier *token.Verifier
	Sessions SessionStore
	// Routes are the table's rows.
	Routes []Route
}

// Errors of a request no route of the table serves. The detail texts are the same for
// every function; the 405 carries an Allow header (RFC 9110, section 15.5.6).
var (
	ErrNoRoute          = NewError(http.StatusNotFound, "not_found", "no such route")
	ErrMethodNotAllowed = NewError(http.StatusMethodNotAllowed, "method_not_allowed",
		"this path does not take that method; the Allow header lists the ones it takes")
)

// Handler serves the table the same way for every function: each route is its own
// ServeMux pattern (so the access log records the route pattern, never the path with its
// ids), "/a/b/" is served as "/a/b", and a request no route matches answers in the error
// shape: 405 method_not_allowed when its path is a route's path under another method,
// with Allow listing the methods of that path, else 404 not_found. Observe is the
// outermost layer. It panics on a table ServeMux refuses (two routes, or two route paths,
// that overlap with neither more specific) or one that needs authentication without a
// Verifier and Sessions: programming errors, found by any test that builds the table.
func (t RouteTable) Handler() http.Handler {
	mux := http.NewServeMux()
	// paths matches a request's path alone against the routes' paths, the way mux does
	// (a literal segment wins over a wildcard), so the 405 names the methods of the path
	// the request meant: POST /media/upload, not GET /media/{id} as well.
	paths := http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range t.Routes {
		var h http.Handler = rt.Handler
		if !rt.Public {
			if t.Verifier == nil || t.Sessions == nil {
				panic(fmt.Sprintf("httpapi: route %s %s needs authentication but the table has no Verifier or Sessions", rt.Method, t.BasePath+rt.Path))
			}
			h = Authenticate(t.Verifier, t.Sessions, h)
		}
		path := t.BasePath + rt.Path
		mux.Handle(rt.Method+" "+path, h)
		if _, seen := methods[path]; !seen {
			paths.Handle(path, http.NotFoundHandler())
		}
		methods[path] = append(methods[path], rt.Method)
		if rt.Method == http.MethodGet {
			methods[path] = append(methods[path], http.MethodHead)
		}
	}
	allow := map[string]string{}
	for path, ms := range methods {
		slices.Sort(ms)
		allow[path] = strings.Join(slices.Compact(ms), ", ")
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, path := paths.Handler(r)
		a, ok := allow[path]
		if !ok {
			Fail(w, r, ErrNoRoute)
			return
		}
		w.Header().Set("Allow", a)
		Fail(w, r, ErrMethodNotAllowed)
	}))
	return Observe(t.Logger, t.Service, TrimTrailingSlash(mux))
}
