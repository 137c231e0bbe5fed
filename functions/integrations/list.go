package integrations

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// list answers the caller's integrations, oldest connection first. A user has at most one
// per provider account, so the list is short and not paged.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	rows, err := s.svc.DB.Query(ctx, `
		SELECT id FROM integrations WHERE user_id = $1 ORDER BY connected_at, id`, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: list: %w", store.Translate(err)))
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: list: %w", store.Translate(err)))
		return
	}
	items := make([]integrationView, 0, len(ids))
	for _, id := range ids {
		i, err := integration.Get(ctx, s.svc.DB, p.UserID, id)
		if errors.Is(err, integration.ErrNotFound) {
			continue // disconnected meanwhile
		}
		if err != nil {
			httpapi.Fail(w, r, fmt.Errorf("integrations: list: %w", err))
			return
		}
		items = append(items, view(i))
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// disconnectMessage is what a pull job that a disconnect ended tells the user.
const disconnectMessage = "Facebook was disconnected before this pull finished."

// disconnect deletes the caller's integration: its row, and the sealed token with it, at
// once; a pending pull fails. The imported posts' ids stay (integration_imports), so
// connecting the same account again imports nothing twice. Then, best effort, the app's
// permissions are revoked at Facebook (DELETE /me/permissions) with the token still in
// this request's memory: a failure there is logged, not answered.
func (s *server) disconnect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// Canonical, since uuid.Parse also takes spellings PostgreSQL refuses (urn:uuid:...).
	parsed, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	id := parsed.String()
	var i integration.Integration
	err = store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
		var err error
		if i, err = integration.Get(ctx, tx, p.UserID, id); err != nil {
			return err
		}
		return deleteIntegration(ctx, tx, i, disconnectMessage)
	})
	if errors.Is(err, integration.ErrNotFound) {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: disconnect: %w", err))
		return
	}
	s.revoke(r, i)
	w.WriteHeader(http.StatusNoContent)
}

// deleteIntegration deletes the row (and so its token) and fails its pending pull.
func deleteIntegration(ctx context.Context, tx pgx.Tx, i integration.Integration, message string) error {
	var pending *string
	err := tx.QueryRow(ctx, `
		DELETE FROM integrations WHERE id = $1 AND user_id = $2 RETURNING pending_job_id`, i.ID, i.UserID).Scan(&pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return integration.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete integration: %w", store.Translate(err))
	}
	if pending != nil {
		if err := job.Fail(ctx, tx, *pending, message); err != nil {
			return err
		}
	}
	return nil
}

// revoke removes the app's permissions at Facebook with the deleted integration's token,
// best effort and bounded in time.
func (s *server) revoke(r *http.Request, i integration.Integration) {
	logger := httpapi.Logger(r.Context())
	if s.fb == nil || i.Status != integration.Active {
		return
	}
	tok, err := s.tokens.Open(i)
	if err != nil {
		logger.Warn("disconnect: the token did not open; not revoked at Facebook", "integration_id", i.ID, "error", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), revokeTimeout)
	defer cancel()
	if err := s.fb.RevokePermissions(ctx, tok); err != nil {
		logger.Warn("disconnect: revoking at Facebook failed", "integration_id", i.ID, "error", err.Error())
	}
}
