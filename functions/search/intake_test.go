package search

import (
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// TestIntakePendingThenIndexedOnRedeem: content delivered while the user is away counts as
// pending and is not found; the redemption, with blindindex.OnOpen as its callback,
// indexes it in its own transaction, and then it is found.
func TestIntakePendingThenIndexedOnRedeem(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	h.put(t, u, entry{content: "an ordinary day"})
	pending := intake.NewPending(h.svc.Redis)
	var delivered intake.Delivered
	err := store.Transact(t.Context(), h.svc.DB, func(tx pgx.Tx) error {
		var err error
		delivered, err = intake.Deliver(t.Context(), tx, pending, intake.Incoming{UserID: u.ID, Source: "facebook",
			Body: intake.Body{Title: strp("Posted"), Content: "A sunset over the estuary."}})
		return err
	})
	if err != nil || !delivered.Pending {
		t.Fatalf("Deliver = %+v, %v; want a pending entry", delivered, err)
	}
	stats := func() statsView {
		res := testenv.Do(t, h.fn, http.MethodGet, basePath+"/stats", u.AccessToken, nil)
		return decode[statsView](t, res)
	}
	if s := stats(); s.IndexedEntries != 1 || s.PendingEntries != 1 {
		t.Errorf("stats with a pending box = %+v, want 1 indexed, 1 pending", s)
	}
	if n := len(h.search(t, u, map[string]any{"query": "estuary"}).Items); n != 0 {
		t.Errorf("a pending entry was found (%d hits)", n)
	}

	red, err := intake.Redeem(t.Context(), h.svc.DB, pending, u.ID, u.MasterKey, 10, blindindex.OnOpen(u.MasterKey, u.ID))
	if err != nil || len(red.Entries) != 1 {
		t.Fatalf("Redeem = %+v, %v", red, err)
	}
	res := h.search(t, u, map[string]any{"query": "sunset estuary"})
	if len(res.Items) != 1 || res.Items[0].Entry.ID != delivered.EntryID {
		t.Errorf("after redemption: search = %v, want %s", res.ids(), delivered.EntryID)
	}
	if s := stats(); s.IndexedEntries != 2 || s.PendingEntries != 0 {
		t.Errorf("stats after redemption = %+v, want 2 indexed, 0 pending", s)
	}
}
