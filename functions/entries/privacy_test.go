package entries

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestCanaryNeverStoredOrLogged writes canary text through every uce call that takes or
// returns it, then checks the canary is in no table of the database (a pg_dump, searched
// in raw, hex and base64 form), in no Redis value and in no log line.
func TestCanaryNeverStoredOrLogged(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")

	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	canary := "canary-" + hex.EncodeToString(nonce)
	titleCanary, updateCanary := canary+"-title", canary+"-updated"

	e := h.create(t, u, map[string]any{"title": titleCanary, "content": canary + " in the content"}, "Idempotency-Key", canary)
	h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", map[string]any{"title": titleCanary, "content": canary + " in the content"}, "Idempotency-Key", canary)
	h.mustStatus(t, u, http.StatusUnprocessableEntity, "POST", "/api/v1/entries", map[string]any{"content": canary + " reused key"}, "Idempotency-Key", canary)
	h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(e.ID), map[string]any{"title": updateCanary, "content": updateCanary})
	h.mustStatus(t, u, http.StatusUnprocessableEntity, "PUT", entryPath(e.ID), map[string]any{"content": updateCanary, "mood": strings.Repeat("x", 40)})
	h.mustStatus(t, u, http.StatusPreconditionFailed, "PUT", entryPath(e.ID), map[string]any{"content": updateCanary}, "If-Match", `"1"`)
	h.mustStatus(t, u, http.StatusOK, "GET", entryPath(e.ID), nil)
	h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries", nil)
	h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", nil)
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	res := h.mustStatus(t, u, http.StatusOK, "POST", entryPath(e.ID)+"/restore", nil)
	if got := decodeJSON[entryJSON](t, res); deref(got.Content) != updateCanary {
		t.Fatalf("Restore content = %q, want %q (the test must see its text round-trip)", deref(got.Content), updateCanary)
	}

	var stored int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM entries WHERE id = $1`, e.ID).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("entry %s is not in the database (%d, %v): is it the test database?", e.ID, stored, err)
	}
	testenv.WantNowhere(t, h.svc.Redis, map[string]string{"the canary": canary}, map[string]string{"the logs": logs.String()})
	if !strings.Contains(logs.String(), `"route":"PUT /api/v1/entries/{id}"`) {
		t.Errorf("the captured logs miss the access log lines; is the capture working?\n%s", logs)
	}
}

// TestMovedCiphertextDoesNotOpen copies a uce entry's sealed title and content onto another
// entry of the same user, onto an entry of another user who holds the same master key,
// and back onto the same entry after an update (an older version). None of them opens:
// the reads answer 500 entry_unreadable without the text, and the logs name the entry but
// hold no text.
func TestMovedCiphertextDoesNotOpen(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, "")
	owner := testenv.NewUser(t, h.svc, "uce")
	// twin is another user whose session holds the owner's master key, so only the
	// associated data can tell their rows apart.
	twin := userWithSession(t, h.svc, testenv.NewUser(t, h.svc, "uce"), owner.MasterKey)

	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	secret := "moved-secret-" + hex.EncodeToString(nonce)
	src := h.create(t, owner, map[string]any{"title": secret, "content": secret})
	sameUser := h.create(t, owner, map[string]any{"content": "other entry"})
	otherUser := h.create(t, twin, map[string]any{"content": "twin entry"})
	rolledBack := h.create(t, owner, map[string]any{"content": secret + " v1"})
	h.mustStatus(t, owner, http.StatusOK, "PUT", entryPath(rolledBack.ID), map[string]any{"content": "v2"})

	copyBody := func(from, to string) {
		t.Helper()
		_, err := h.svc.DB.Exec(t.Context(), `
			UPDATE entries AS dst SET title_ct = src.title_ct, content_ct = src.content_ct, body_version = src.body_version
			FROM entries AS src WHERE src.id = $1 AND dst.id = $2`, from, to)
		if err != nil {
			t.Fatal(err)
		}
	}
	copyBody(src.ID, sameUser.ID)
	copyBody(src.ID, otherUser.ID)
	// Put version 1's content back under body_version 2.
	if _, err := h.svc.DB.Exec(t.Context(), `
		UPDATE entries SET content_ct = (SELECT content_ct FROM entries WHERE id = $1), title_ct = NULL WHERE id = $2`,
		src.ID, rolledBack.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		user testenv.User
		id   string
	}{
		{"another entry of the same user", owner, sameUser.ID},
		{"an entry of another user with the same key", twin, otherUser.ID},
		{"an older body under a newer version", owner, rolledBack.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{entryPath(tt.id), "/api/v1/entries", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z"} {
				res := h.do(t, tt.user, "GET", path, nil)
				if res.Code != http.StatusInternalServerError {
					t.Errorf("GET %s with a moved ciphertext = %d %s, want 500", path, res.Code, res.Body)
				}
				if e := decodeJSON[errorJSON](t, res); e.Code != "entry_unreadable" {
					t.Errorf("GET %s with a moved ciphertext code = %q, want entry_unreadable", path, e.Code)
				}
				if strings.Contains(res.Body.String(), secret) {
					t.Errorf("GET %s answered the moved plaintext: %s", path, res.Body)
				}
			}
			// The entry can still be deleted, which needs no decryption, and then the
			// restore refuses to bring back what it cannot show.
			h.mustStatus(t, tt.user, http.StatusNoContent, "DELETE", entryPath(tt.id), nil)
			h.mustStatus(t, tt.user, http.StatusInternalServerError, "POST", entryPath(tt.id)+"/restore", nil)
			h.mustStatus(t, tt.user, http.StatusNotFound, "GET", entryPath(tt.id), nil)
		})
	}
	// The source itself still opens.
	got := decodeJSON[entryJSON](t, h.mustStatus(t, owner, http.StatusOK, "GET", entryPath(src.ID), nil))
	if deref(got.Content) != secret {
		t.Errorf("source entry content = %q, want %q", deref(got.Content), secret)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the logs hold the moved plaintext")
	}
	if !strings.Contains(logs.String(), sameUser.ID) || !strings.Contains(logs.String(), "integrity check") {
		t.Errorf("the logs do not report the entry that failed its integrity check:\n%s", logs)
	}
}
