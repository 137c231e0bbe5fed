package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

type verifyRecoveryCodeRequest struct {
	Email        string `json:"email"`
	RecoveryCode string `json:"recovery_code"`
}

type verifyRecoveryCodeResponse struct {
	Valid          bool `json:"valid"`
	RemainingCodes int  `json:"remaining_codes"`
}

// validate trims the email and requires both fields (422).
func (req *verifyRecoveryCodeRequest) validate() error {
	req.Email = strings.TrimSpace(req.Email)
	if fields := requireFields(map[string]string{"email": req.Email, "recovery_code": req.RecoveryCode}); fields != nil {
		return httpapi.Invalid(fields)
	}
	return nil
}

// verifyRecoveryCode checks and spends one of the user's recovery codes. A code works
// once; an unknown email, a wrong code and a spent one all get the same 401. It is rate
// limited like login (in a scope of its own), since it too is a secret that could be
// guessed.
func (s *server) verifyRecoveryCode(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req verifyRecoveryCodeRequest
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
	remaining, err := spendRecoveryCode(ctx, s.db, req.Email, crypto.HashRecoveryCode(req.RecoveryCode))
	if errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, errInvalidRecoveryCode)
		return
	}
	if err != nil {
		att.abandon(ctx)
		httpapi.Fail(w, r, fmt.Errorf("auth: verify recovery code: %w", err))
		return
	}
	if err := att.succeeded(ctx); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("recovery code spent", "remaining_codes", remaining)
	httpapi.WriteJSON(w, http.StatusOK, verifyRecoveryCodeResponse{Valid: true, RemainingCodes: remaining})
}

type newRecoveryCodesRequest struct {
	Password string `json:"password"`
}

type newRecoveryCodesResponse struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// validate requires the password (422).
func (req newRecoveryCodesRequest) validate() error {
	if fields := requireFields(map[string]string{"password": req.Password}); fields != nil {
		return httpapi.Invalid(fields)
	}
	return nil
}

// regenerateRecoveryCodes replaces the caller's recovery codes with ten new ones, shown
// this once. Every earlier code is void, spent or not; for uce their wraps of the master
// key are erased and each new code gets its own, made from the master key that the
// password opens.
func (s *server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req newRecoveryCodesRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	u, err := s.confirmedAccount(r, c, req.Password)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: new recovery codes: %w", err))
		return
	}
	masterKey, err := s.passwordMasterKey(ctx, u, req.Password)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	defer clear(masterKey)
	codes, rows, err := newRecoveryCodes(u.ID, masterKey)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: new recovery codes: %w", err))
		return
	}
	err = store.Transact(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockLiveUser(ctx, tx, u.ID); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, tx, u.ID, rows)
	})
	if errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, httpapi.ErrUnauthorized)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: new recovery codes: %w", err))
		return
	}
	httpapi.Logger(ctx).Info("recovery codes replaced", "codes", len(codes))
	httpapi.WriteJSON(w, http.StatusCreated, newRecoveryCodesResponse{RecoveryCodes: codes})
}
