package media

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/media"

// routeTable is the function's one route table. Every route needs an access token whose
// session is alive.
func routeTable(s *server) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodPost, Path: "/upload", Handler: s.upload},
		{Method: http.MethodGet, Path: "", Handler: s.list},
		{Method: http.MethodGet, Path: "/{id}", Handler: s.get},
		{Method: http.MethodPost, Path: "/{id}/complete", Handler: s.complete},
		{Method: http.MethodGet, Path: "/{id}/download", Handler: s.download},
		{Method: http.MethodDelete, Path: "/{id}", Handler: s.delete},
	}
}

// routes serves the route table.
func routes(s *server, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "media", BasePath: basePath, Logger: logger,
		Verifier: s.svc.Verifier, Sessions: s.svc.Sessions,
		Routes: routeTable(s),
	}.Handler()
}
