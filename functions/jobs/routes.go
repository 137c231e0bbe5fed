package jobs

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/jobs"

// routes is the function's one route table; every route needs an authenticated caller.
func routes(a *api, svc *platform.Services, logger *slog.Logger) http.Handler {
	auth := func(h http.HandlerFunc) http.Handler {
		return httpapi.Authenticate(svc.Verifier, svc.Sessions, h)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+basePath, auth(a.listJobs))
	mux.Handle("GET "+basePath+"/{id}", auth(a.getJob))
	// Anything else under the prefix answers in the error shape.
	mux.HandleFunc(basePath, unknownRoute)
	mux.HandleFunc(basePath+"/{rest...}", unknownRoute)
	return httpapi.Observe(logger, "jobs", httpapi.TrimTrailingSlash(mux))
}

// unknownRoute answers 405 for a known path with a method it does not take, 404 otherwise.
func unknownRoute(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.PathValue("rest"), "/") {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	// Every route of the table is a GET; a 405 must say what is allowed.
	w.Header().Set("Allow", http.MethodGet)
	httpapi.Fail(w, r, httpapi.NewError(http.StatusMethodNotAllowed, "method_not_allowed", "use GET on this path"))
}
