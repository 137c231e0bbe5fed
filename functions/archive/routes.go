package archive

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// basePath is the common root of the function's two prefixes, /api/v1/export and
// /api/v1/imports; the function serves full paths.
const basePath = "/api/v1"

// routeTable is the function's one route table. Every route needs an access token whose
// session is alive.
func routeTable(s *server) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/export", Handler: s.export},
		{Method: http.MethodPost, Path: "/imports", Handler: s.createImport},
		{Method: http.MethodGet, Path: "/imports", Handler: s.listImports},
		{Method: http.MethodGet, Path: "/imports/{id}", Handler: s.getImport},
		{Method: http.MethodPost, Path: "/imports/{id}/start", Handler: s.startImport},
	}
}

// routes serves the route table.
func routes(s *server, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "archive", BasePath: basePath, Logger: logger,
		Verifier: s.svc.Verifier, Sessions: s.svc.Sessions,
		Routes: routeTable(s),
	}.Handler()
}
