package auth

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/session"
)

// sessionView is one session as GET /sessions shows it.
type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
	UserAgent  string    `json:"user_agent"`
}

type sessionList struct {
	Items []sessionView `json:"items"`
}

// listSessions answers the caller's live sessions, newest first, marking the one the
// request came with. last_used_at is exact to a minute (the session store writes it at
// most once a minute).
func (s *server) listSessions(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	list, err := s.sessions.List(r.Context(), c.UserID)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: list sessions: %w", err))
		return
	}
	out := sessionList{Items: make([]sessionView, 0, len(list))}
	for _, sess := range list {
		out.Items = append(out.Items, sessionView{
			ID:         sess.ID,
			CreatedAt:  sess.CreatedAt.UTC(),
			LastUsedAt: sess.LastUsedAt.UTC(),
			ExpiresAt:  sess.ExpiresAt.UTC(),
			Current:    sess.ID == c.SessionID,
			UserAgent:  sess.UserAgent,
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// revokeSession ends one of the caller's sessions at once (the caller's own too, like a
// logout). Another user's session, or one that is gone, is a 404.
func (s *server) revokeSession(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	err = s.sessions.RevokeOwned(r.Context(), c.UserID, r.PathValue("id"))
	if errors.Is(err, session.ErrNotFound) {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: revoke session: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// logoutAll ends every session of the caller at once, the one the request came with too.
func (s *server) logoutAll(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	n, err := s.sessions.RevokeUser(r.Context(), c.UserID, "")
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: logout all: %w", err))
		return
	}
	httpapi.Logger(r.Context()).Info("logged out everywhere", "sessions", n)
	w.WriteHeader(http.StatusNoContent)
}
