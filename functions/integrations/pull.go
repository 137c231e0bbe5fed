package integrations

import (
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/store"
)

// pull asks the sync consumer for the caller's new Facebook posts now: 202 with the pull's
// job (GET /api/v1/jobs/{id}). A pull already queued or running is answered with its job;
// the event is written again either way (the consumer imports nothing twice), so a pull whose
// event was lost can be asked for again.
func (s *server) pull(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	i, _, err := s.active(ctx, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var jobID string
	err = store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
		if jobID, _, err = integration.QueuePull(ctx, tx, i); err != nil {
			return err
		}
		return addPull(ctx, tx, i, jobID)
	})
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: pull: %w", err))
		return
	}
	s.relay.Wake()
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]string{"job_id": jobID})
}
