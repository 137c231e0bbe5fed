package entries

import (
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

// entryHistory serves GET /api/v1/entries/{id}/history: one item per change, oldest first.
// It answers for a soft-deleted entry too (its history ends with "deleted"), and 404 once
// the entry is purged or when it is not the caller's. It needs no key: history holds no
// entry text.
func (a *api) entryHistory(w http.ResponseWriter, r *http.Request) {
	id, ok := entryID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	c, err := a.callerOf(r, false)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	exists, err := entryExists(r.Context(), a.db, c.userID, id)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if !exists {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	items, err := listEntryEvents(r.Context(), a.db, c.userID, id)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	for i := range items {
		items[i].At = items[i].At.UTC()
	}
	httpapi.WriteJSON(w, http.StatusOK, historyView{Items: items})
}
