package media

import (
	"context"
	"net/http"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/testenv"
)

// getIfNoneMatch GETs the media with the If-None-Match given ("" for none).
func (f fixture) getIfNoneMatch(t *testing.T, u testenv.User, id, ifNoneMatch string) testenv.Response {
	t.Helper()
	var headers []string
	if ifNoneMatch != "" {
		headers = []string{"If-None-Match", ifNoneMatch}
	}
	return testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+id, u.AccessToken, nil, headers...)
}

// wantNotModified fails unless resp is a 304 with the ETag etag, Cache-Control as every
// answer, and no body.
func wantNotModified(t *testing.T, resp testenv.Response, etag string) {
	t.Helper()
	if resp.Code != http.StatusNotModified || resp.Body.Len() != 0 {
		t.Errorf("GET = %d %q, want 304 and no body", resp.Code, resp.Body)
	}
	if got := resp.Header().Get("ETag"); got != etag {
		t.Errorf("304 ETag = %q, want %q", got, etag)
	}
	if got := resp.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("304 Cache-Control = %q, want no-store", got)
	}
}

// TestGetIfNoneMatch: GET /media/{id} has an ETag; If-None-Match naming it (weakly, in a
// list, or "*") answers 304; the tag changes when the answer does (pending becomes ready,
// the entry it was attached to is purged), and then the old tag answers 200.
func TestGetIfNoneMatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, f.svc, tier)
			entry := newEntry(t, f.svc, u.ID)
			data := randomBytes(t, 64)
			body := uploadBody("note.m4a", "audio/mp4", data)
			body["entry_id"] = entry
			a := f.requestUpload(t, u, body)

			resp := f.getIfNoneMatch(t, u, a.Media.ID, "")
			pending := resp.Header().Get("ETag")
			if resp.Code != http.StatusOK || len(pending) < 3 || pending[0] != '"' || pending[len(pending)-1] != '"' {
				t.Fatalf("GET pending media = %d ETag %q, want 200 with a strong ETag", resp.Code, pending)
			}
			if again := f.getIfNoneMatch(t, u, a.Media.ID, "").Header().Get("ETag"); again != pending {
				t.Errorf("ETag of an unchanged media = %q then %q, want the same", pending, again)
			}
			for _, inm := range []string{pending, "W/" + pending, `"other", ` + pending, "*"} {
				wantNotModified(t, f.getIfNoneMatch(t, u, a.Media.ID, inm), pending)
			}
			if resp := f.getIfNoneMatch(t, u, a.Media.ID, `"other"`); resp.Code != http.StatusOK {
				t.Errorf("GET with another tag = %d, want 200", resp.Code)
			}

			if status, answer := put(t, a.Upload.URL, a.Upload.Headers, data); status != http.StatusOK {
				t.Fatalf("PUT = %d %s", status, answer)
			}
			done := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", u.AccessToken, nil)
			ready := done.Header().Get("ETag")
			resp = f.getIfNoneMatch(t, u, a.Media.ID, pending)
			var m mediaView
			resp.JSON(t, &m)
			if resp.Code != http.StatusOK || m.Status != statusReady || resp.Header().Get("ETag") != ready || ready == pending {
				t.Errorf("GET ready media with the pending tag = %d status %q ETag %q (complete said %q), want 200 ready with a new ETag",
					resp.Code, m.Status, resp.Header().Get("ETag"), ready)
			}
			wantNotModified(t, f.getIfNoneMatch(t, u, a.Media.ID, ready), ready)

			// Purging the entry (the entries function's table) leaves the media unattached.
			if _, err := f.svc.DB.Exec(context.Background(), `DELETE FROM entries WHERE id = $1`, entry); err != nil {
				t.Fatal(err)
			}
			resp = f.getIfNoneMatch(t, u, a.Media.ID, ready)
			m = mediaView{}
			resp.JSON(t, &m)
			if resp.Code != http.StatusOK || m.EntryID != nil || resp.Header().Get("ETag") == ready {
				t.Errorf("GET unattached media with the attached tag = %d entry %v ETag %q, want 200, no entry, a new ETag",
					resp.Code, m.EntryID, resp.Header().Get("ETag"))
			}
		})
	}
}

// TestGetIfNoneMatchOpensNothing: a 304 is answered from the row alone. A uce session
// holding another master key cannot open the filename (a 200 fails), yet its matching
// If-None-Match answers 304: nothing was decrypted.
func TestGetIfNoneMatchOpensNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "uce")
	a := f.requestUpload(t, u, uploadBody("holiday.jpg", "image/jpeg", randomBytes(t, 32)))
	tag := f.getIfNoneMatch(t, u, a.Media.ID, "").Header().Get("ETag")

	otherKey, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := f.svc.Sessions.Create(context.Background(), u.ID, u.Tier, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := u
	if wrongKey.AccessToken, _, err = testenv.Issuer(t).Issue(u.ID, sess.ID, u.Tier); err != nil {
		t.Fatal(err)
	}
	if resp := f.getIfNoneMatch(t, wrongKey, a.Media.ID, ""); resp.Code != http.StatusInternalServerError {
		t.Fatalf("GET under another key = %d %s, want 500 (the filename is opened for a 200)", resp.Code, resp.Body)
	}
	wantNotModified(t, f.getIfNoneMatch(t, wrongKey, a.Media.ID, tag), tag)
}

// TestGetIfNoneMatchRefusalsFirst: If-None-Match never turns a refusal into a 304: another
// user's media and a deleted one are 404 with "*" too.
func TestGetIfNoneMatchRefusalsFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "e2e")
	other := testenv.NewUser(t, f.svc, "e2e")
	kept := f.requestUpload(t, u, uploadBody("a.png", "image/png", randomBytes(t, 16)))
	gone := f.requestUpload(t, u, uploadBody("b.png", "image/png", randomBytes(t, 16)))
	if resp := testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+gone.Media.ID, u.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d", resp.Code)
	}
	for _, c := range []struct {
		name string
		user testenv.User
		id   string
	}{{"another user's", other, kept.Media.ID}, {"deleted", u, gone.Media.ID}} {
		if resp := f.getIfNoneMatch(t, c.user, c.id, "*"); resp.Code != http.StatusNotFound {
			t.Errorf("GET %s media with If-None-Match * = %d, want 404", c.name, resp.Code)
		}
	}
}
