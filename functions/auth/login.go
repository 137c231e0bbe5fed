package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login checks the password and opens a session. An unknown email runs the same bcrypt
// work against a dummy hash, so it answers the same 401 in the same time as a wrong
// password. For uce the password also derives (Argon2id, under the concurrency bound) the
// key that unwraps the master key, which the session then holds sealed.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req loginRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req.Email = strings.TrimSpace(req.Email)
	if fields := requireFields(map[string]string{"email": req.Email, "password": req.Password}); fields != nil {
		httpapi.Fail(w, r, httpapi.Invalid(fields))
		return
	}
	if err := s.limiter.allow(ctx, scopeLogin, clientIP(r, s.proxies), req.Email); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, err := userByEmail(ctx, s.db, req.Email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		crypto.DummyCheckPassword(req.Password)
		httpapi.Fail(w, r, errInvalidCredentials)
		return
	case err != nil:
		httpapi.Fail(w, r, fmt.Errorf("auth: login: %w", err))
		return
	case !crypto.CheckPassword(u.PasswordHash, req.Password):
		httpapi.Fail(w, r, errInvalidCredentials)
		return
	}
	var masterKey []byte
	if u.Tier == "uce" {
		kdfCtx, cancel := context.WithTimeout(ctx, kdfWait)
		masterKey, err = unwrapMasterKey(kdfCtx, s.kdf, u, req.Password)
		cancel()
		if err != nil {
			httpapi.Fail(w, r, kdfError(err))
			return
		}
		defer clear(masterKey)
	}
	if err := s.limiter.succeeded(ctx, scopeLogin, req.Email); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	pair, err := s.openSession(ctx, u, masterKey)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("user logged in", "user_id", u.ID)
	httpapi.WriteJSON(w, http.StatusOK, sessionJSON{User: userView(u), tokenPair: pair})
}

// requireFields returns a 422 message for each empty field, or nil.
func requireFields(values map[string]string) map[string]string {
	var fields map[string]string
	for name, v := range values {
		if v == "" {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[name] = "is required"
		}
	}
	return fields
}
