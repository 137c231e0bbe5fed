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

// routes is the function's one route table. signup, login, refresh, verify-recovery-code
// and reset-password are open; every other route needs an access token whose session is
// alive.
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
			{Method: http.MethodPost, Path: "/change-password", Handler: s.changePassword},
			{Method: http.MethodPost, Path: "/reset-password", Handler: s.resetPassword, Public: true},
			{Method: http.MethodPost, Path: "/recovery-codes", Handler: s.regenerateRecoveryCodes},
			{Method: http.MethodGet, Path: "/sessions", Handler: s.listSessions},
			{Method: http.MethodDelete, Path: "/sessions/{id}", Handler: s.revokeSession},
			{Method: http.MethodPost, Path: "/logout-all", Handler: s.logoutAll},
			{Method: http.MethodPut, Path: "/key-backup", Handler: s.putKeyBackup},
			{Method: http.MethodGet, Path: "/key-backup", Handler: s.getKeyBackup},
			{Method: http.MethodDelete, Path: "/me", Handler: s.deleteAccount},
		},
	}.Handler()
}
