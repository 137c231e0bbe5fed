package search

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/search"

// routeTable is the function's one route table. Every route needs an authenticated uce
// caller.
func routeTable(a *api) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodPost, Path: "", Handler: a.search},
		{Method: http.MethodPost, Path: "/index", Handler: a.reindex},
		{Method: http.MethodGet, Path: "/stats", Handler: a.stats},
	}
}

// routes serves the route table.
func routes(a *api, svc *platform.Services, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "search", BasePath: basePath, Logger: logger,
		Verifier: svc.Verifier, Sessions: svc.Sessions,
		Routes: routeTable(a),
	}.Handler()
}
