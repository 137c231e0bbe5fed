package auth

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
)

// TestLoginRestoresPendingMarker: a uce user with an intake box waiting and no marker (as
// after Redis lost it) gets the marker back at login, so their first entries request
// redeems it; and the session's master key, from the keys signup wraps, redeems it: the
// private key wrap auth writes is the one intake unwraps.
func TestLoginRestoresPendingMarker(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a := insertAccount(t, h, "uce")
	pending := intake.NewPending(h.svc.Redis)
	var d intake.Delivered
	err := store.Transact(ctx, h.svc.DB, func(tx pgx.Tx) error {
		var err error
		d, err = intake.Deliver(ctx, tx, pending, intake.Incoming{UserID: a.User.ID, Body: intake.Body{Content: "a post"}, Source: "facebook"})
		return err
	})
	if err != nil {
		t.Fatalf("intake.Deliver() = %v", err)
	}
	if err := h.svc.Redis.Del(ctx, "intake:pending:"+a.User.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if has, _ := pending.Has(ctx, a.User.ID); has {
		t.Fatal("marker still set")
	}
	s := login(t, h, a)
	if has, err := pending.Has(ctx, a.User.ID); err != nil || !has {
		t.Fatalf("Pending.Has() after login = %v, %v, want true", has, err)
	}
	red, err := intake.Redeem(ctx, h.svc.DB, pending, a.User.ID, sessionMasterKey(t, h, s.AccessToken), 10, nil)
	if err != nil || len(red.Entries) != 1 || red.Entries[0].EntryID != d.EntryID {
		t.Fatalf("intake.Redeem(session's master key) = %+v, %v, want the delivered entry", red, err)
	}

	// Nothing pending: a login sets no marker.
	login(t, h, a)
	if has, _ := pending.Has(ctx, a.User.ID); has {
		t.Errorf("Pending.Has() after a login with nothing pending = true")
	}
}
