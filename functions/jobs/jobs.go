package jobs

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/keyset"
)

// api holds what the handlers need.
type api struct {
	db *pgxpool.Pool
}

// jobView is a job as the API shows it.
type jobView struct {
	ID       string  `json:"id"`
	Kind     string  `json:"kind"`
	Status   string  `json:"status"`
	Progress int     `json:"progress"`
	Error    *string `json:"error"`
	// Result holds the job's counts (e.g. a cleanup's entries_purged): an addition to the
	// API contract so a user can see what a job did.
	Result     json.RawMessage `json:"result"`
	CreatedAt  string          `json:"created_at"`
	FinishedAt *string         `json:"finished_at"`
}

func view(j jobRow) jobView {
	v := jobView{
		ID: j.ID, Kind: j.Kind, Status: j.Status, Progress: int(j.Progress), Error: j.Error,
		Result: j.Result, CreatedAt: j.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
	if len(v.Result) == 0 {
		v.Result = json.RawMessage(`{}`)
	}
	if j.FinishedAt != nil {
		s := j.FinishedAt.UTC().Format(time.RFC3339Nano)
		v.FinishedAt = &s
	}
	return v
}

// getJob answers GET /api/v1/jobs/{id}: the caller's job, or 404 for an unknown id, a
// malformed one, someone else's job or a system job.
func (a *api) getJob(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	j, err := getJob(r.Context(), a.db, c.UserID, id.String())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, view(j))
}

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// listPage is the answer of GET /api/v1/jobs.
type listPage struct {
	Items      []jobView `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// listJobs answers GET /api/v1/jobs?kind=&limit=&cursor=: the caller's jobs, newest
// first, so a user can find jobs they did not start themselves (their share of the daily
// cleanup).
func (a *api) listJobs(w http.ResponseWriter, r *http.Request) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	f, err := parseListQuery(r.URL.Query())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	rows, err := listJobs(r.Context(), a.db, c.UserID, f)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	out := listPage{Items: []jobView{}}
	if len(rows) > f.limit {
		rows = rows[:f.limit]
		last := rows[len(rows)-1]
		next := keyset.Position{At: last.CreatedAt, ID: last.ID}.Encode(listCursorKind)
		out.NextCursor = &next
	}
	for _, j := range rows {
		out.Items = append(out.Items, view(j))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// parseListQuery reads ?kind=&limit=&cursor=; every bad parameter is named in one 422.
func parseListQuery(q url.Values) (listFilter, error) {
	bad := map[string]string{}
	page := keyset.ParsePage(q, listCursorKind, bad)
	f := listFilter{kind: q.Get("kind"), limit: page.Limit, after: page.After}
	if f.kind != "" && !kindPattern.MatchString(f.kind) {
		bad["kind"] = "must be a job kind such as cleanup"
	}
	if len(bad) > 0 {
		return listFilter{}, httpapi.Invalid(bad)
	}
	return f, nil
}

// listCursorKind tags the jobs list's cursors (a keyset.Position in (created_at, id)).
const listCursorKind = "j1"
