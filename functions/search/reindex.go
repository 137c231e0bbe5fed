package search

import (
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/store"
)

// JobKind is the kind of a reindex job, as GET /api/v1/jobs shows it.
const JobKind = "search_index"

// reindexView is the answer to POST /api/v1/search/index.
type reindexView struct {
	JobID  string `json:"job_id"`
	Status string `json:"status"`
}

// reindex serves POST /api/v1/search/index: it queues a job and writes
// search.reindex.requested with the user, job and session ids to the outbox in the same
// transaction, and answers 202. The
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
		if jobID, err = job.Queue(r.Context(), tx, c.userID, JobKind); err != nil {
			return err
		}
		// The indexer's event, in the job's transaction: no job without its event, and
		// no request waits for the Broker (the relay sends it after the commit).
		_, err = outbox.Add(r.Context(), tx, eventing.TypeSearchReindexRequested, eventing.SourceSearch, jobID, c.userID,
			eventing.SearchReindexRequested{UserID: c.userID, JobID: jobID, SessionID: c.sessionID})
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	a.relay.Wake()
	httpapi.WriteJSON(w, http.StatusAccepted, reindexView{JobID: jobID, Status: job.Queued})
}
