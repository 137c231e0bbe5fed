package entries

import (
	"net/http"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/testenv"
)

// TestGetIfNoneMatch: GET /entries/{id} with an If-None-Match that names the current
// version (weakly, in a list, or "*") answers 304 with the ETag, Cache-Control as every
// answer, and no body; another version answers 200; after an update the old tag answers
// 200 with the new version.
func TestGetIfNoneMatch(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			e := h.create(t, u, body(t, u, "first words", nil))
			path := entryPath(e.ID)
			for _, inm := range []string{`"1"`, `W/"1"`, `"7", "1"`, `*`} {
				res := h.do(t, u, "GET", path, nil, "If-None-Match", inm)
				if res.Code != http.StatusNotModified || res.Body.Len() != 0 {
					t.Errorf("GET with If-None-Match %s = %d %q, want 304 and no body", inm, res.Code, res.Body)
				}
				if got := res.Header().Get("ETag"); got != `"1"` {
					t.Errorf("GET with If-None-Match %s ETag = %q, want \"1\"", inm, got)
				}
				if got := res.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("GET with If-None-Match %s Cache-Control = %q, want no-store", inm, got)
				}
			}
			res := h.mustStatus(t, u, http.StatusOK, "GET", path, nil, "If-None-Match", `"2"`)
			if got := decodeJSON[entryJSON](t, res); got.ID != e.ID || got.Version != 1 {
				t.Errorf("GET with another version's tag = %+v, want the entry at version 1", got)
			}

			h.mustStatus(t, u, http.StatusOK, "PUT", path, body(t, u, "second words", nil))
			res = h.mustStatus(t, u, http.StatusOK, "GET", path, nil, "If-None-Match", `"1"`)
			if got := decodeJSON[entryJSON](t, res); got.Version != 2 || res.Header().Get("ETag") != `"2"` {
				t.Errorf("GET with the tag from before the update = version %d ETag %q, want version 2 ETag \"2\"", got.Version, res.Header().Get("ETag"))
			}
			if tier == "uce" && (res.Body.Len() == 0 || *decodeJSON[entryJSON](t, res).Content != "second words") {
				t.Errorf("GET after the update = %s, want the new content", res.Body)
			}
			h.mustStatus(t, u, http.StatusNotModified, "GET", path, nil, "If-None-Match", `"2"`)
		})
	}
}

// TestGetIfNoneMatchDecryptsNothing: a 304 is answered from the version alone. A uce
// session holding another master key cannot open the entry (a 200 would be a 500
// entry_unreadable), yet its matching If-None-Match answers 304: nothing was decrypted.
func TestGetIfNoneMatchDecryptsNothing(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	e := h.create(t, u, body(t, u, "sealed under the real key", nil))
	otherKey, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := userWithSession(t, h.svc, u, otherKey)
	res := h.do(t, wrongKey, "GET", entryPath(e.ID), nil)
	if e := decodeJSON[errorJSON](t, res); res.Code != http.StatusInternalServerError || e.Code != "entry_unreadable" {
		t.Fatalf("GET under another key = %d %s, want 500 entry_unreadable (the entry is decrypted for a 200)", res.Code, res.Body)
	}
	res = h.do(t, wrongKey, "GET", entryPath(e.ID), nil, "If-None-Match", `"1"`)
	if res.Code != http.StatusNotModified || res.Body.Len() != 0 || res.Header().Get("ETag") != `"1"` {
		t.Errorf("GET under another key with If-None-Match \"1\" = %d ETag %q %q, want 304 without decrypting", res.Code, res.Header().Get("ETag"), res.Body)
	}
}

// TestGetIfNoneMatchRefusalsFirst: If-None-Match never turns a refusal into a 304 (RFC
// 9110, section 13.2.1): a deleted entry, another user's, and a uce session without its
// key are answered as without the header.
func TestGetIfNoneMatchRefusalsFirst(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	kept := h.create(t, u, body(t, u, "kept", nil))
	gone := h.create(t, u, body(t, u, "deleted", nil))
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(gone.ID), nil)
	keyless := userWithSession(t, h.svc, u, nil)
	tests := []struct {
		name     string
		user     testenv.User
		id       string
		wantCode int
		wantErr  string
	}{
		{"deleted", u, gone.ID, http.StatusNotFound, "not_found"},
		{"another user's", other, kept.ID, http.StatusNotFound, "not_found"},
		{"session without a key", keyless, kept.ID, http.StatusUnauthorized, "session_key_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, inm := range []string{"*", `"1"`, `"2"`} {
				res := h.do(t, tt.user, "GET", entryPath(tt.id), nil, "If-None-Match", inm)
				if e := decodeJSON[errorJSON](t, res); res.Code != tt.wantCode || e.Code != tt.wantErr {
					t.Errorf("GET with If-None-Match %s = %d %s, want %d %s", inm, res.Code, res.Body, tt.wantCode, tt.wantErr)
				}
			}
		})
	}
}
