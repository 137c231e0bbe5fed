package integrations

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/integrations"

// routeTable is the function's one route table. Every route but Facebook's data deletion
// callback and its status page needs an access token; every route answers 503
// integration_not_configured while no Facebook app is configured.
func routeTable(s *server) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "", Handler: s.configured(s.list)},
		{Method: http.MethodDelete, Path: "/{id}", Handler: s.configured(s.disconnect)},
		{Method: http.MethodPost, Path: "/facebook/connect", Handler: s.configured(s.connect)},
		{Method: http.MethodPost, Path: "/facebook/callback", Handler: s.configured(s.callback)},
		{Method: http.MethodGet, Path: "/facebook/pages", Handler: s.configured(s.pages)},
		{Method: http.MethodPost, Path: "/facebook/push", Handler: s.configured(s.push)},
		{Method: http.MethodPost, Path: "/facebook/pull", Handler: s.configured(s.pull)},
		{Method: http.MethodPost, Path: "/facebook/data-deletion", Handler: s.configured(s.dataDeletion), Public: true},
		{Method: http.MethodGet, Path: deletionStatusPath + "{code}", Handler: s.configured(s.dataDeletionStatus), Public: true},
	}
}

// routes serves the route table.
func routes(s *server, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "integrations", BasePath: basePath, Logger: logger,
		Verifier: s.svc.Verifier, Sessions: s.svc.Sessions,
		Routes: routeTable(s),
	}.Handler()
}
