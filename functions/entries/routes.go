package entries

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/entries"

// routeTable is the function's one route table. Every route needs an authenticated caller.
func routeTable(a *api) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodPost, Path: "", Handler: a.createEntry},
		{Method: http.MethodGet, Path: "", Handler: a.listEntries},
		{Method: http.MethodGet, Path: "/{id}", Handler: a.getEntry},
		{Method: http.MethodPut, Path: "/{id}", Handler: a.updateEntry},
		{Method: http.MethodDelete, Path: "/{id}", Handler: a.deleteEntry},
		{Method: http.MethodPost, Path: "/{id}/restore", Handler: a.restoreEntry},
		{Method: http.MethodGet, Path: "/{id}/history", Handler: a.entryHistory},
	}
}

// routes serves the route table.
func routes(a *api, svc *platform.Services, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "entries", BasePath: basePath, Logger: logger,
		Verifier: svc.Verifier, Sessions: svc.Sessions,
		Routes: routeTable(a),
	}.Handler()
}
