package auth

import (
	"log/slog"
	"net/http"

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
	return httpapi.RouteTable{
		Service: "auth", BasePath: basePath, Logger: logger,
		Verifier: svc.Verifier, Sessions: svc.Sessions,
		Routes: []httpapi.Route{
			{Method: http.MethodPost, Path: "/signup", Handler: s.signup, Public: true},
			{Method: http.MethodPost, Path: "/login", Handler: s.login, Public: true},
			{Method: http.MethodPost, Path: "/refresh", Handler: s.refresh, Public: true},
			{Method: http.MethodGet, Path: "/me", Handler: s.me},
			{Method: http.MethodGet, Path: "/features", Handler: s.features},
			{Method: http.MethodPost, Path: "/verify-recovery-code", Handler: s.verifyRecoveryCode, Public: true},
			{Method: http.MethodPost, Path: "/logout", Handler: s.logout},
		},
	}.Handler()
}
