package jobs

import (
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/jobs"

// routes is the function's one route table; every route needs an authenticated caller.
func routes(a *api, svc *platform.Services, logger *slog.Logger) http.Handler {
	return httpapi.RouteTable{
		Service: "jobs", BasePath: basePath, Logger: logger,
		Verifier: svc.Verifier, Sessions: svc.Sessions,
		Routes: []httpapi.Route{
			{Method: http.MethodGet, Path: "", Handler: a.listJobs},
			{Method: http.MethodGet, Path: "/{id}", Handler: a.getJob},
		},
	}.Handler()
}
