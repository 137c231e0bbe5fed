package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/indexer"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/testenv"
)

// searchWorld is the whole API in-process with the local Broker and the indexer, as
// scripts/dev runs them.
type searchWorld struct {
	t      *testing.T
	h      http.Handler
	broker *local.Router
	// ingress says when the relay has handed an event to the Broker.
	ingress *ingress
}

func newSearchWorld(t *testing.T) *searchWorld {
	t.Helper()
	env := inProcessEnv(t)
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := host.New(indexer.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Start(context.Background(), env); err != nil {
		t.Fatalf("start indexer: %v", err)
	}
	t.Cleanup(func() { _ = idx.Stop(context.Background()) })
	broker, err := local.NewRouter(m, local.Options{Handlers: brokerHandlers(map[string]http.Handler{"indexer": idx})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	in := newIngress(broker)
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	env["K_SINK"] = srv.URL
	return &searchWorld{t: t, h: startGateway(t, diary.NewInProcess(groupFunctions()), env), broker: broker, ingress: in}
}

func (w *searchWorld) do(u testenv.User, want int, method, path string, body any) testenv.Response {
	w.t.Helper()
	res := testenv.Do(w.t, w.h, method, path, u.AccessToken, body)
	if res.Code != want {
		w.t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, want)
	}
	return res
}

func (w *searchWorld) hits(u testenv.User, query string) []string {
	w.t.Helper()
	var page struct {
		Items []struct {
			Entry struct {
				ID string `json:"id"`
			} `json:"entry"`
		} `json:"items"`
	}
	w.do(u, http.StatusOK, http.MethodPost, "/api/v1/search", map[string]any{"query": query}).JSON(w.t, &page)
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.Entry.ID)
	}
	return ids
}

// TestSearchThroughTheAPI: an entry is found as soon as its create answers, its update
// replaces what is found, a delete hides it and a restore brings it back; a reindex
// requested through the API runs through the local Broker and the indexer and succeeds,
// as GET /api/v1/jobs shows. (A reindex after logout is functions/indexer's test: the
// request needs a live session, and the local Broker delivers at once.)
func TestSearchThroughTheAPI(t *testing.T) {
	w := newSearchWorld(t)
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "uce")
	var e struct {
		ID string `json:"id"`
	}
	w.do(u, http.StatusCreated, http.MethodPost, "/api/v1/entries", map[string]any{"title": "Kayak", "content": "Paddled across the fjord."}).JSON(t, &e)
	if got := w.hits(u, "paddling fjord"); len(got) != 1 || got[0] != e.ID {
		t.Fatalf("after create: hits %v, want %s", got, e.ID)
	}
	w.do(u, http.StatusOK, http.MethodPut, "/api/v1/entries/"+e.ID, map[string]any{"content": "Hiked up the glacier."})
	if got := w.hits(u, "fjord"); len(got) != 0 {
		t.Errorf("after update: the old text is still found: %v", got)
	}
	if got := w.hits(u, "glacier"); len(got) != 1 {
		t.Errorf("after update: the new text is not found: %v", got)
	}
	w.do(u, http.StatusNoContent, http.MethodDelete, "/api/v1/entries/"+e.ID, nil)
	if got := w.hits(u, "glacier"); len(got) != 0 {
		t.Errorf("a deleted entry is found: %v", got)
	}
	w.do(u, http.StatusOK, http.MethodPost, "/api/v1/entries/"+e.ID+"/restore", nil)
	if got := w.hits(u, "glacier"); len(got) != 1 {
		t.Errorf("a restored entry is not found: %v", got)
	}

	// The reindex, end to end.
	if _, err := svc.DB.Exec(t.Context(), `DELETE FROM search_index WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	var job struct {
		JobID  string `json:"job_id"`
		Status string `json:"status"`
	}
	w.do(u, http.StatusAccepted, http.MethodPost, "/api/v1/search/index", nil).JSON(t, &job)
	w.ingress.waitFor(t, eventing.TypeSearchReindexRequested, job.JobID)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := w.broker.Drain(ctx); err != nil {
		t.Fatalf("drain the local Broker: %v", err)
	}
	var got struct {
		Status   string         `json:"status"`
		Progress int            `json:"progress"`
		Error    *string        `json:"error"`
		Result   map[string]any `json:"result"`
	}
	w.do(u, http.StatusOK, http.MethodGet, "/api/v1/jobs/"+job.JobID, nil).JSON(t, &got)
	if got.Status != "succeeded" || got.Progress != 100 || got.Result["indexed_entries"] != float64(1) {
		t.Errorf("reindex job = %+v, want succeeded, 100, 1 indexed", got)
	}
	if hits := w.hits(u, "glacier"); len(hits) != 1 {
		t.Errorf("after the reindex: hits %v, want the entry", hits)
	}
	var stats struct {
		Indexed int `json:"indexed_entries"`
		Pending int `json:"pending_entries"`
	}
	w.do(u, http.StatusOK, http.MethodGet, "/api/v1/search/stats", nil).JSON(t, &stats)
	if stats.Indexed != 1 || stats.Pending != 0 {
		t.Errorf("stats = %+v, want 1 indexed, 0 pending", stats)
	}

}
