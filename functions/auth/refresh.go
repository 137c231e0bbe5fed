package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/session"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// validate refuses an empty token as every invalid one is refused (401): the session store
// judges the rest.
func (req refreshRequest) validate() error {
	if req.RefreshToken == "" {
		return errInvalidRefresh
	}
	return nil
}

// refresh spends a refresh token for a new token pair. Presenting a token that was
// already spent means it leaked or was replayed: the session package revokes the whole
// session, so the newer tokens stop working too.
func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req refreshRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	sess, next, err := s.sessions.Rotate(ctx, req.RefreshToken)
	switch {
	case errors.Is(err, session.ErrInvalidRefresh), errors.Is(err, session.ErrNotFound):
		if errors.Is(err, session.ErrTampered) {
			httpapi.Logger(ctx).Warn("session record failed its integrity check")
		}
		httpapi.Fail(w, r, errInvalidRefresh)
		return
	case errors.Is(err, session.ErrRefreshReused):
		httpapi.Logger(ctx).Warn("spent refresh token presented again, session revoked")
		httpapi.Fail(w, r, errRefreshReused)
		return
	case err != nil:
		httpapi.Fail(w, r, fmt.Errorf("auth: refresh: %w", err))
		return
	}
	pair, err := s.newTokenPair(sess, next)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, pair)
}
