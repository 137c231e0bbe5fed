package media

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/media"

// route is one line of the route table; path is relative to basePath.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routeTable is the function's one route table. Every route needs an access token whose
// session is alive.
func routeTable(s *server) []route {
	return []route{
		{http.MethodPost, "/upload", s.upload},
		{http.MethodGet, "", s.list},
		{http.MethodGet, "/{id}", s.get},
		{http.MethodPost, "/{id}/complete", s.complete},
		{http.MethodGet, "/{id}/download", s.download},
		{http.MethodDelete, "/{id}", s.delete},
	}
}

// routes serves the route table behind authentication, request logging and the
// trailing-slash rule.
func routes(s *server, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routeTable(s) {
		mux.Handle(rt.method+" "+basePath+rt.path, httpapi.Authenticate(s.svc.Verifier, s.svc.Sessions, rt.handler))
	}
	// Any other request answers in the error shape rather than the mux's plain text: 405
	// with Allow when the path exists under other methods, else 404.
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			httpapi.Fail(w, r, httpapi.NewError(http.StatusNotFound, "not_found", "no such route"))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		httpapi.Fail(w, r, httpapi.NewError(http.StatusMethodNotAllowed, "method_not_allowed",
			"use "+strings.Join(allow, ", ")+" on this path"))
	}))
	return httpapi.Observe(logger, "media", httpapi.TrimTrailingSlash(mux))
}
