package auth

import (
	"fmt"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// logout revokes the caller's session: its access token fails the session check of every
// function from now on, and its refresh token cannot be rotated.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, _ := httpapi.PrincipalFrom(ctx)
	if err := s.sessions.Revoke(ctx, p.Session.ID); err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: logout: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
