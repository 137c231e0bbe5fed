package entryref_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/entryref"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// insertEntry writes an e2e entry of userID, soft-deleted when deleted.
func insertEntry(t *testing.T, svc *platform.Services, userID string, deleted bool) string {
	t.Helper()
	id := uuid.NewString()
	_, err := svc.DB.Exec(context.Background(), `
		INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, deleted_at, version, content_bytes)
		VALUES ($1, $2, '\x00', 1, now(), now(), now(), CASE WHEN $3 THEN now() END, CASE WHEN $3 THEN 2 ELSE 1 END, 1)`,
		id, userID, deleted)
	if err != nil {
		t.Fatalf("insert entry: %v", err)
	}
	return id
}

func TestLive(t *testing.T) {
	svc := testenv.Services(t)
	u, other := testenv.NewUser(t, svc, "e2e"), testenv.NewUser(t, svc, "e2e")
	tests := []struct {
		name    string
		entryID string
		want    bool
	}{
		{"own live entry", insertEntry(t, svc, u.ID, false), true},
		{"own deleted entry", insertEntry(t, svc, u.ID, true), false},
		{"another user's live entry", insertEntry(t, svc, other.ID, false), false},
		{"no such entry", uuid.NewString(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := entryref.Live(t.Context(), svc.DB, u.ID, tt.entryID)
			if err != nil || got != tt.want {
				t.Errorf("Live(%s) = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		})
	}
}
