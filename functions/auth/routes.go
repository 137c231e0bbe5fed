package auth

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
)

// basePath is where the gateway mounts the function; the function serves full paths.
const basePath = "/api/v1/auth"

// bodyLimit bounds every auth request body: the largest valid one (a 1024-byte password
// and a public key) is far smaller.
const bodyLimit = 16 << 10

// routes is the function's one route table. signup, login, refresh and
// verify-recovery-code are open; me, features and logout need an access token whose
// session is alive.
func routes(s *server, svc *platform.Services, logger *slog.Logger) http.Handler {
	auth := func(h http.HandlerFunc) http.Handler {
		return httpapi.Authenticate(svc.Verifier, svc.Sessions, h)
	}
	table := []struct {
		method, path string
		handler      http.Handler
	}{
		{http.MethodPost, "/signup", http.HandlerFunc(s.signup)},
		{http.MethodPost, "/login", http.HandlerFunc(s.login)},
		{http.MethodPost, "/refresh", http.HandlerFunc(s.refresh)},
		{http.MethodGet, "/me", auth(s.me)},
		{http.MethodGet, "/features", auth(s.features)},
		{http.MethodPost, "/verify-recovery-code", http.HandlerFunc(s.verifyRecoveryCode)},
		{http.MethodPost, "/logout", auth(s.logout)},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range table {
		mux.Handle(rt.method+" "+basePath+rt.path, rt.handler)
		allowed[basePath+rt.path] = append(allowed[basePath+rt.path], rt.method)
	}
	// A known path with another method, and any other path, answer in the error shape
	// rather than the mux's plain-text 405 and 404.
	for path, methods := range allowed {
		mux.Handle(path, methodNotAllowed(methods))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Fail(w, r, errUnknownRoute)
	}))
	return httpapi.Observe(logger, "auth", httpapi.TrimTrailingSlash(mux))
}

func methodNotAllowed(methods []string) http.Handler {
	allow := strings.Join(slices.Sorted(slices.Values(methods)), ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		httpapi.Fail(w, r, httpapi.NewError(http.StatusMethodNotAllowed, "method_not_allowed",
			"use "+allow+" on this path"))
	})
}
