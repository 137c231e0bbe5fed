package media

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// newEntry inserts an e2e-shaped entry row for the user straight into the entries table
// (owned by the entries function), as little as its constraints allow.
func newEntry(t *testing.T, svc *platform.Services, userID string) string {
	t.Helper()
	id := uuid.NewString()
	_, err := svc.DB.Exec(context.Background(), `
		INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, change_seq, content_bytes)
		VALUES ($1, $2, '\x01', 1, now(), now(), now(), nextval('entry_change_seq'), 1)`, id, userID)
	if err != nil {
		t.Fatalf("insert entry: %v", err)
	}
	return id
}

func TestAttachToEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	other := testenv.NewUser(t, f.svc, "uce")
	entry := newEntry(t, f.svc, u.ID)
	othersEntry := newEntry(t, f.svc, other.ID)
	deletedEntry := newEntry(t, f.svc, u.ID)
	if _, err := f.svc.DB.Exec(context.Background(), `UPDATE entries SET deleted_at = now() WHERE id = $1`, deletedEntry); err != nil {
		t.Fatal(err)
	}

	body := uploadBody("photo.jpg", "image/jpeg", randomBytes(t, 100))
	body["entry_id"] = entry
	attached := f.requestUpload(t, u, body).Media
	if attached.EntryID == nil || *attached.EntryID != entry {
		t.Errorf("POST /upload with entry_id: media.entry_id = %v, want %s", attached.EntryID, entry)
	}
	loose := f.requestUpload(t, u, uploadBody("loose.jpg", "image/jpeg", randomBytes(t, 100))).Media

	for name, id := range map[string]string{"another user's entry": othersEntry, "a deleted entry": deletedEntry} {
		body := uploadBody("x.jpg", "image/jpeg", randomBytes(t, 100))
		body["entry_id"] = id
		resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, body)
		var e errorAnswer
		resp.JSON(t, &e)
		if resp.Code != http.StatusUnprocessableEntity || e.Fields["entry_id"] == "" {
			t.Errorf("POST /upload with %s = %d %s, want 422 on entry_id", name, resp.Code, resp.Body)
		}
	}

	resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media?entry_id="+entry, u.AccessToken, nil)
	var l listResponse
	resp.JSON(t, &l)
	if resp.Code != http.StatusOK || len(l.Items) != 1 || l.Items[0].ID != attached.ID {
		t.Errorf("GET /?entry_id= = %d %s, want only media %s", resp.Code, resp.Body, attached.ID)
	}
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media?entry_id="+othersEntry, u.AccessToken, nil)
	resp.JSON(t, &l)
	if resp.Code != http.StatusOK || len(l.Items) != 0 {
		t.Errorf("GET /?entry_id=<another user's entry> = %d %s, want no items", resp.Code, resp.Body)
	}
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media", u.AccessToken, nil)
	resp.JSON(t, &l)
	if len(l.Items) != 2 || l.Items[0].ID != loose.ID || l.Items[1].ID != attached.ID {
		t.Errorf("GET / = %s, want both media, newest first", resp.Body)
	}

	// Purging the entry leaves the media unattached rather than deleting it.
	if _, err := f.svc.DB.Exec(context.Background(), `DELETE FROM entries WHERE id = $1`, entry); err != nil {
		t.Fatal(err)
	}
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+attached.ID, u.AccessToken, nil)
	var m mediaView
	resp.JSON(t, &m)
	if resp.Code != http.StatusOK || m.EntryID != nil {
		t.Errorf("GET /{id} after the entry's purge = %d %s, want 200 with entry_id null", resp.Code, resp.Body)
	}
}
