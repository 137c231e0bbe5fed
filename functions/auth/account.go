package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// purgeJobKind is the kind of the job that follows an account's purge (functions/purge).
const purgeJobKind = "account_purge"

type deleteAccountRequest struct {
	Password string `json:"password"`
}

type deleteAccountResponse struct {
	JobID string `json:"job_id"`
}

// deleteAccount deletes the caller's account, key material first (crypto-shredding): in
// one transaction the user is marked deleted and the password hash, the uce wraps of the
// master key (password and recovery codes), the wrapped private key and the e2e key
// backup are erased, and the purge job is queued; every session, with the master key it
// holds sealed, is revoked before the commit and again after it. From the answer on nobody
// can log in as the user, and no key that opens their entries exists anywhere the service
// keeps one. The account.deleted event, written to the outbox in that transaction and
// relayed after it, then starts functions/purge, which removes every row and object left.
func (s *server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req deleteAccountRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if fields := requireFields(map[string]string{"password": req.Password}); fields != nil {
		httpapi.Fail(w, r, httpapi.Invalid(fields))
		return
	}
	u, err := s.confirmedAccount(r, c, req.Password)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: delete account: %w", err))
		return
	}
	var jobID string
	err = store.Transact(ctx, s.db, func(tx pgx.Tx) error {
		if err := shredUser(ctx, tx, u.ID); err != nil {
			return err
		}
		if jobID, err = job.Queue(ctx, tx, u.ID, purgeJobKind); err != nil {
			return err
		}
		// The purge's event, in the same transaction: it exists exactly when the account
		// is marked deleted, and the relay sends it after the commit.
		if _, err := outbox.Add(ctx, tx, eventing.TypeAccountDeleted, eventing.SourceAuth, u.ID, u.ID,
			eventing.AccountDeleted{UserID: u.ID, JobID: jobID}); err != nil {
			return err
		}
		// Before the commit, so that Redis out of reach leaves the account as it was
		// (503) rather than deleted with live sessions holding its master key.
		if _, err := s.sessions.RevokeUser(ctx, u.ID, ""); err != nil {
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by a racing request.
		httpapi.Fail(w, r, httpapi.ErrUnauthorized)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: delete account: %w", err))
		return
	}
	s.relay.Wake()
	logger := httpapi.Logger(ctx).With("job_id", jobID)
	// After the commit, no request of this account can change anything: the answer must
	// not depend on the client staying for it.
	ctx = context.WithoutCancel(ctx)
	// Again after the commit: a login that checked the password before it may have stored
	// a session since (one stored later revokes itself, see openSession).
	if _, err := s.sessions.RevokeUser(ctx, u.ID, ""); err != nil {
		logger.Error("account deleted, but the second revocation of its sessions failed", "error", err.Error())
	}
	logger.Info("account deleted: keys erased, sessions revoked, purge queued")
	httpapi.WriteJSON(w, http.StatusAccepted, deleteAccountResponse{JobID: jobID})
}
