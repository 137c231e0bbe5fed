package entries

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/entries"

// routes is the function's one route table. Every route needs an authenticated caller;
// each is wrapped on its own so the mux records the route pattern for the access log.
func routes(a *api, svc *platform.Services, logger *slog.Logger) http.Handler {
	auth := func(h http.HandlerFunc) http.Handler {
		return httpapi.Authenticate(svc.Verifier, svc.Sessions, h)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+basePath, auth(a.createEntry))
	mux.Handle("GET "+basePath, auth(a.listEntries))
	mux.Handle("GET "+basePath+"/{id}", auth(a.getEntry))
	mux.Handle("PUT "+basePath+"/{id}", auth(a.updateEntry))
	mux.Handle("DELETE "+basePath+"/{id}", auth(a.deleteEntry))
	mux.Handle("POST "+basePath+"/{id}/restore", auth(a.restoreEntry))
	mux.Handle("GET "+basePath+"/{id}/history", auth(a.entryHistory))
	// Anything else under the prefix answers in the error shape rather than the mux's
	// plain-text 404 and 405.
	mux.HandleFunc(basePath, unknownRoute)
	mux.HandleFunc(basePath+"/{rest...}", unknownRoute)
	return httpapi.Observe(logger, "entries", httpapi.TrimTrailingSlash(mux))
}

// unknownRoute answers 405 for a known path with a method it does not take, 404 otherwise.
func unknownRoute(w http.ResponseWriter, r *http.Request) {
	rest := strings.Split(r.PathValue("rest"), "/")
	known := len(rest) == 1 || (len(rest) == 2 && (rest[1] == "restore" || rest[1] == "history"))
	if !known {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	httpapi.Fail(w, r, httpapi.NewError(http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed here"))
}
