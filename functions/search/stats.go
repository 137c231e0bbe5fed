package search

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// statsView is the answer to GET /api/v1/search/stats.
type statsView struct {
	IndexedEntries int64      `json:"indexed_entries"`
	PendingEntries int64      `json:"pending_entries"`
	LastIndexedAt  *time.Time `json:"last_indexed_at"`
}

// stats serves GET /api/v1/search/stats from what is stored: live entries whose tokens
// were made from their current text are indexed; the others (no tokens, or tokens of an
// older text) are pending until an index write or a reindex catches up.
func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r, false)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	s, err := indexStats(r.Context(), a.db, c.userID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s)
}

func indexStats(ctx context.Context, db store.DBTX, userID string) (statsView, error) {
	var s statsView
	err := db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE s.entry_version = e.body_version),
		       count(*) FILTER (WHERE s.entry_id IS NULL OR s.entry_version <> e.body_version),
		       (SELECT max(indexed_at) FROM search_index WHERE user_id = $1)
		FROM entries e
		LEFT JOIN search_index s ON s.entry_id = e.id
		WHERE e.user_id = $1 AND e.deleted_at IS NULL`, userID).Scan(&s.IndexedEntries, &s.PendingEntries, &s.LastIndexedAt)
	if err != nil {
		return statsView{}, fmt.Errorf("search: stats: %w", store.Translate(err))
	}
	if s.LastIndexedAt != nil {
		t := s.LastIndexedAt.UTC()
		s.LastIndexedAt = &t
	}
	return s, nil
}
