package search

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// JobKind is the kind of a reindex job, as GET /api/v1/jobs shows it.
const JobKind = "search_index"

// emitTimeout bounds the emit of the reindex event; the emitter retries within it.
const emitTimeout = 5 * time.Second

// messageNotStarted is the failed job's error when the event could not be sent.
const messageNotStarted = "the reindex could not be started; try again in a minute"

// reindexView is the answer to POST /api/v1/search/index.
type reindexView struct {
	JobID  string `json:"job_id"`
	Status string `json:"status"`
}

// reindex serves POST /api/v1/search/index: it queues a job and emits
// search.reindex.requested with the user, job and session ids, and answers 202. The
// indexer takes the master key from this very session while it lives; a session that
// holds no key is refused now (401 session_key_unavailable) rather than failing later.
func (a *api) reindex(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	clear(c.key) // only checked: the indexer opens the key from the session itself
	var jobID string
	err = store.Transact(r.Context(), a.db, func(tx pgx.Tx) error {
		jobID, err = job.Queue(r.Context(), tx, c.userID, JobKind)
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), emitTimeout)
	defer cancel()
	if _, err := a.emitter.Emit(ctx, eventing.TypeSearchReindexRequested, eventing.SourceSearch, jobID,
		eventing.SearchReindexRequested{UserID: c.userID, JobID: jobID, SessionID: c.sessionID}); err != nil {
		// Nothing will run the job: say so on it, and let the client retry.
		httpapi.Logger(r.Context()).Warn("reindex event not emitted", "job_id", jobID, "error", err.Error())
		if ferr := job.Fail(ctx, a.db, jobID, messageNotStarted); ferr != nil {
			httpapi.Logger(r.Context()).Error("reindex job not failed", "job_id", jobID, "error", ferr.Error())
		}
		httpapi.Fail(w, r, httpapi.Unavailable("the reindex could not be started"))
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, reindexView{JobID: jobID, Status: job.Queued})
}
