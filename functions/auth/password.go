package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// passwordProblem says what is wrong with a new password, or "" when it is acceptable:
// the rule signup applies.
func passwordProblem(password string) string {
	switch {
	case utf8.RuneCountInString(password) < minPasswordChars:
		return fmt.Sprintf("must be at least %d characters", minPasswordChars)
	case len(password) > maxPasswordBytes:
		return fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)
	}
	return ""
}

// withNewPassword adds new_password's problem, if it has one, to fields (nil for none yet)
// and returns them.
func withNewPassword(fields map[string]string, password string) map[string]string {
	if problem := passwordProblem(password); problem != "" {
		if fields == nil {
			fields = map[string]string{}
		}
		fields["new_password"] = problem
	}
	return fields
}

// callerAccount returns the caller's live account. A session whose account is gone (it was
// deleted while the session lived on) is not authenticated.
func (s *server) callerAccount(ctx context.Context, c httpapi.Caller) (user, error) {
	u, err := userByID(ctx, s.db, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return user{}, httpapi.ErrUnauthorized
	}
	if err != nil {
		return user{}, err
	}
	return u, nil
}

// confirmedAccount returns the caller's live account once password is confirmed against
// it (confirmPassword): the start of every call that asks for the password again.
func (s *server) confirmedAccount(r *http.Request, c httpapi.Caller, password string) (user, error) {
	u, err := s.callerAccount(r.Context(), c)
	if err != nil {
		return user{}, err
	}
	if err := s.confirmPassword(r, u, password); err != nil {
		return user{}, err
	}
	return u, nil
}

// confirmPassword checks password against the caller's account for a call that needs it
// again (a password change, new recovery codes, the deletion): a stolen access token alone
// must not be enough. The check is counted by the login protection, in the login scope and
// on the account's email, so a stolen token cannot guess the password faster than a login
// could. A wrong password is errInvalidCredentials.
func (s *server) confirmPassword(r *http.Request, u user, password string) error {
	ctx := r.Context()
	att, err := s.limiter.begin(ctx, scopeLogin, s.clients.Client(r), u.Email)
	if err != nil {
		return err
	}
	ok, err := s.checkPassword(ctx, &u, password)
	if err != nil {
		att.abandon(ctx)
		return err
	}
	if !ok {
		return errInvalidCredentials
	}
	return att.succeeded(ctx)
}

// newCredentials hashes the new password and, for a uce user (masterKey not nil), wraps
// the master key under it with a fresh salt: the one thing a password protects.
func (s *server) newCredentials(ctx context.Context, u user, password string, masterKey []byte) (credentials, error) {
	var c credentials
	if masterKey != nil {
		salt, err := crypto.NewSalt()
		if err != nil {
			return c, fmt.Errorf("auth: new credentials: %w", err)
		}
		kdfCtx, cancel := context.WithTimeout(ctx, s.kdfWait)
		wrapped, err := wrapUnderPassword(kdfCtx, s.kdf, u.ID, password, salt, masterKey)
		cancel()
		if err != nil {
			return c, busy(fmt.Errorf("auth: new credentials: %w", err))
		}
		c.KDFSalt, c.WrappedMasterKey = salt, wrapped
	}
	hashCtx, cancel := context.WithTimeout(ctx, s.bcryptWait)
	hash, err := s.passwords.Hash(hashCtx, password)
	cancel()
	if err != nil {
		return c, busy(fmt.Errorf("auth: new credentials: %w", err))
	}
	c.PasswordHash = hash
	return c, nil
}

// passwordMasterKey opens a uce user's master key with the password (already checked), or
// returns nil for e2e.
func (s *server) passwordMasterKey(ctx context.Context, u user, password string) ([]byte, error) {
	if u.Tier != "uce" {
		return nil, nil
	}
	kdfCtx, cancel := context.WithTimeout(ctx, s.kdfWait)
	defer cancel()
	key, err := unwrapMasterKey(kdfCtx, s.kdf, u, password)
	if err != nil {
		return nil, busy(err)
	}
	return key, nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// validate requires the current password and a new one signup would take (422).
func (req changePasswordRequest) validate() error {
	fields := withNewPassword(requireFields(map[string]string{"current_password": req.CurrentPassword}), req.NewPassword)
	if fields != nil {
		return httpapi.Invalid(fields)
	}
	return nil
}

// changePassword replaces the caller's password. For uce the master key is opened with
// the current password and wrapped again under the new one: the entries, the private key
// and the recovery codes are under the master key, which does not change, so nothing is
// re-encrypted. Every session of the user ends, the caller's included; the caller goes on
// in a new session whose token pair is the answer.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req changePasswordRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, err := s.confirmedAccount(r, c, req.CurrentPassword)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: change password: %w", err))
		return
	}
	masterKey, err := s.passwordMasterKey(ctx, u, req.CurrentPassword)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	defer clear(masterKey)
	creds, err := s.newCredentials(ctx, u, req.NewPassword, masterKey)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// Only if the password is still the one just checked: of two changes racing, the
	// second is told its current password is wrong, which it now is.
	if err := setCredentials(ctx, s.db, u.ID, u.PasswordHash, creds); errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, errInvalidCredentials)
		return
	} else if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: change password: %w", err))
		return
	}
	u.PasswordHash = creds.PasswordHash
	pair, err := s.replaceSessions(ctx, u, masterKey, r.UserAgent())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("password changed")
	httpapi.WriteJSON(w, http.StatusOK, pair)
}

// replaceSessions ends every session of the user and opens a new one, for the client that
// just proved the new credentials. The old sessions are revoked after the new one is made,
// so the set the revocation lists holds every session made before the change committed.
func (s *server) replaceSessions(ctx context.Context, u user, masterKey []byte, userAgent string) (tokenPair, error) {
	sess, refresh, err := s.sessions.CreateFrom(ctx, u.ID, u.Tier, masterKey, userAgent)
	if err != nil {
		return tokenPair{}, fmt.Errorf("auth: replace sessions: %w", err)
	}
	if _, err := s.sessions.RevokeUser(ctx, u.ID, sess.ID); err != nil {
		_ = s.sessions.Revoke(context.WithoutCancel(ctx), sess.ID)
		return tokenPair{}, fmt.Errorf("auth: replace sessions: %w", err)
	}
	pair, err := s.newTokenPair(sess, refresh)
	if err != nil {
		_ = s.sessions.Revoke(context.WithoutCancel(ctx), sess.ID)
		return tokenPair{}, err
	}
	return pair, nil
}

type resetPasswordRequest struct {
	Email        string `json:"email"`
	RecoveryCode string `json:"recovery_code"`
	NewPassword  string `json:"new_password"`
}

// validate trims the email, requires it and the recovery code, and a new password signup
// would take (422).
func (req *resetPasswordRequest) validate() error {
	req.Email = strings.TrimSpace(req.Email)
	fields := withNewPassword(requireFields(map[string]string{"email": req.Email, "recovery_code": req.RecoveryCode}), req.NewPassword)
	if fields != nil {
		return httpapi.Invalid(fields)
	}
	return nil
}

type resetPasswordResponse struct {
	sessionJSON
	RemainingCodes int `json:"remaining_codes"`
}

// resetPassword sets a new password with a recovery code instead of the old password. The
// code is spent. For uce the code's own wrap of the master key opens it, and it is wrapped
// again under the new password, so every entry stays readable; for e2e only the password
// changes (the client restores its keys itself, from its key backup). Every earlier
// session ends. An unknown email, a wrong code and a spent one all answer the same 401;
// attempts are counted like verify-recovery-code's (the login protection, recovery scope).
func (s *server) resetPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req resetPasswordRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	att, err := s.limiter.begin(ctx, scopeRecovery, s.clients.Client(r), req.Email)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, code, err := unusedRecoveryCode(ctx, s.db, req.Email, crypto.HashRecoveryCode(req.RecoveryCode))
	if errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, errInvalidRecoveryCode)
		return
	}
	if err != nil {
		att.abandon(ctx)
		httpapi.Fail(w, r, fmt.Errorf("auth: reset password: %w", err))
		return
	}
	var masterKey []byte
	if u.Tier == "uce" {
		masterKey, err = recoveryMasterKey(u.ID, code, req.RecoveryCode)
		if err != nil {
			att.abandon(ctx)
			httpapi.Fail(w, r, fmt.Errorf("auth: reset password: %w", err))
			return
		}
		defer clear(masterKey)
	}
	creds, err := s.newCredentials(ctx, u, req.NewPassword, masterKey)
	if err != nil {
		att.abandon(ctx)
		httpapi.Fail(w, r, err)
		return
	}
	var remaining int
	err = store.Transact(ctx, s.db, func(tx pgx.Tx) error {
		if remaining, err = spendRecoveryCodeByID(ctx, tx, u.ID, code.ID); err != nil {
			return err
		}
		return setCredentials(ctx, tx, u.ID, "", creds)
	})
	if errors.Is(err, store.ErrNotFound) {
		// Spent by a racing attempt, or the account was deleted meanwhile.
		httpapi.Fail(w, r, errInvalidRecoveryCode)
		return
	}
	if err != nil {
		att.abandon(ctx)
		httpapi.Fail(w, r, fmt.Errorf("auth: reset password: %w", err))
		return
	}
	if err := att.succeeded(ctx); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u.PasswordHash = creds.PasswordHash
	pair, err := s.replaceSessions(ctx, u, masterKey, r.UserAgent())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("password reset with a recovery code", "user_id", u.ID, "remaining_codes", remaining)
	httpapi.WriteJSON(w, http.StatusOK, resetPasswordResponse{
		sessionJSON:    sessionJSON{User: userView(u), tokenPair: pair},
		RemainingCodes: remaining,
	})
}
