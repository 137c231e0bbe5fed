package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// validate trims the email and requires both fields (422).
func (req *loginRequest) validate() error {
	req.Email = strings.TrimSpace(req.Email)
	if fields := requireFields(map[string]string{"email": req.Email, "password": req.Password}); fields != nil {
		return httpapi.Invalid(fields)
	}
	return nil
}

// login checks the password and opens a session. An unknown email runs the same bcrypt
// work against a dummy hash, under the same bound, so it answers the same 401 in the same
// time as a wrong password. For uce the password also derives (Argon2id, under its own
// bound) the key that unwraps the master key, which the session then holds sealed. The
// attempt is rate limited first (see rateLimiter); a full bound answers 503.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req loginRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	att, err := s.limiter.begin(ctx, scopeLogin, s.clients.Client(r), req.Email)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, err := userByEmail(ctx, s.db, req.Email)
	var found *user
	switch {
	case err == nil:
		found = &u
	case !errors.Is(err, store.ErrNotFound):
		att.abandon(ctx)
		httpapi.Fail(w, r, fmt.Errorf("auth: login: %w", err))
		return
	}
	ok, err := s.checkPassword(ctx, found, req.Password)
	if err != nil {
		att.abandon(ctx)
		httpapi.Fail(w, r, err)
		return
	}
	if !ok {
		httpapi.Fail(w, r, errInvalidCredentials)
		return
	}
	// The password is proven: the attempt is no failure, whatever happens next.
	if err := att.succeeded(ctx); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var masterKey []byte
	if u.Tier == "uce" {
		kdfCtx, cancel := context.WithTimeout(ctx, s.kdfWait)
		masterKey, err = unwrapMasterKey(kdfCtx, s.kdf, u, req.Password)
		cancel()
		if err != nil {
			httpapi.Fail(w, r, busy(err))
			return
		}
		defer clear(masterKey)
	}
	pair, err := s.openSession(ctx, u, masterKey, r.UserAgent())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if u.Tier == "uce" {
		s.restorePending(ctx, u.ID)
	}
	httpapi.Logger(ctx).Info("user logged in", "user_id", u.ID)
	httpapi.WriteJSON(w, http.StatusOK, sessionJSON{User: userView(u), tokenPair: pair})
}

// checkPassword checks password against u's hash, or runs the dummy check when u is nil
// (no such email), under the bcrypt bound: a wait for a slot longer than bcryptWait is
// errBusy.
func (s *server) checkPassword(ctx context.Context, u *user, password string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.bcryptWait)
	defer cancel()
	if u == nil {
		return false, busy(s.passwords.DummyCheck(ctx, password))
	}
	ok, err := s.passwords.Check(ctx, u.PasswordHash, password)
	return ok, busy(err)
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

// restorePending makes sure a uce user's pending intake boxes (content that arrived while
// they were away) are redeemed by their first entries request: it sets the Redis marker
// entries asks when the database holds any (intake.Pending.Restore), e.g. after Redis
// lost it. The re-sealing itself stays with entries, which emits entry.changed and indexes
// each entry as it redeems it; a login pays one index probe for it. A failure is logged
// and does not fail the login: the boxes stay pending, nothing is lost.
func (s *server) restorePending(ctx context.Context, userID string) {
	if _, err := s.pending.Restore(ctx, s.db, userID); err != nil {
		httpapi.Logger(ctx).Warn("intake: restore pending marker", "error", err.Error())
	}
}
