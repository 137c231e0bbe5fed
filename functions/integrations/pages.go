package integrations

import (
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
)

type pageView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// pages lists the Facebook Pages the caller may post to (GET /me/accounts, the Pages whose
// tasks include creating content). Page tokens are never stored: push asks for them again.
func (s *server) pages(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	i, tok, err := s.active(ctx, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	pages, err := s.fb.Accounts(ctx, tok)
	if err != nil {
		httpapi.Fail(w, r, s.graphFailure(ctx, &i, err))
		return
	}
	items := []pageView{}
	for _, pg := range pages {
		if pg.CanPost() {
			items = append(items, pageView{ID: pg.ID, Name: pg.Name})
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
