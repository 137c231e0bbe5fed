package entryref_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/entryref"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

func TestBody(t *testing.T) {
	ctx := t.Context()
	svc := testenv.Services(t)
	e2e, uce, other := testenv.NewUser(t, svc, "e2e"), testenv.NewUser(t, svc, "uce"), testenv.NewUser(t, svc, "e2e")

	e2eEntry := insertEntry(t, svc, e2e.ID, false)
	uceEntry := uuid.NewString()
	title := "t"
	sealed, err := entrybody.Seal(uce.MasterKey, uce.ID, uceEntry, 1, &title, "the content")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DB.Exec(ctx, `
		INSERT INTO entries (id, user_id, title_ct, content_ct, body_version, occurred_at, created_at, updated_at, content_bytes)
		VALUES ($1, $2, $3, $4, 1, now(), now(), now(), 1)`, uceEntry, uce.ID, sealed.Title, sealed.Content); err != nil {
		t.Fatal(err)
	}
	// A uce entry delivered while the user was away: no body under the master key yet.
	var pending intake.Delivered
	err = store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
		pending, err = intake.Deliver(ctx, tx, intake.NewPending(svc.Redis), intake.Incoming{UserID: uce.ID, Body: intake.Body{Content: "x"}, Source: "facebook"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := entryref.Body(ctx, svc.DB, e2e.ID, e2eEntry)
	if err != nil || !bytes.Equal(got.Ciphertext, []byte{0}) {
		t.Errorf("Body(e2e) = %+v, %v; want the ciphertext", got, err)
	}
	got, err = entryref.Body(ctx, svc.DB, uce.ID, uceEntry)
	if err != nil {
		t.Fatalf("Body(uce) = %v", err)
	}
	if _, content, err := entrybody.Open(uce.MasterKey, uce.ID, uceEntry, got.BodyVersion, got.Sealed); err != nil || content != "the content" {
		t.Errorf("the uce body opens to %q, %v", content, err)
	}
	if _, err := entryref.Body(ctx, svc.DB, uce.ID, pending.EntryID); !errors.Is(err, entryref.ErrNoBody) {
		t.Errorf("Body(pending) = %v, want ErrNoBody", err)
	}
	for name, c := range map[string][2]string{
		"another user's entry": {other.ID, e2eEntry},
		"a deleted entry":      {e2e.ID, insertEntry(t, svc, e2e.ID, true)},
		"no such entry":        {e2e.ID, uuid.NewString()},
	} {
		if _, err := entryref.Body(ctx, svc.DB, c[0], c[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Body(%s) = %v, want store.ErrNotFound", name, err)
		}
	}
}
