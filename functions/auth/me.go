package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// me answers the caller's own user.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, err := userByID(r.Context(), s.db, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		// The account is gone while its session lived on.
		httpapi.Fail(w, r, httpapi.ErrUnauthorized)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: me: %w", err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, userView(u))
}
