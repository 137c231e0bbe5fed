package main

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/shared/testenv"
)

// TestAuthorizationMatrix asks every operation of the served document that needs a token
// (its own security, or the document's) the questions an attacker would: with no token,
// with the token of a revoked session, and with another user's resource ids. The matrix
// comes from the document, so a group added later is covered as soon as its fragment is
// merged. Every exchange also goes through testenv.Do's check against the document.
func TestAuthorizationMatrix(t *testing.T) {
	h := startGateway(t, diary.NewInProcess(groupFunctions()), inProcessEnv(t))
	svc := testenv.Services(t)
	doc := openAPIDocument(t)
	ops := doc.operations(t)

	owner := testenv.NewUser(t, svc, "uce")
	stranger := testenv.NewUser(t, svc, "uce")
	revoked := testenv.NewUser(t, svc, "uce")
	if err := svc.Sessions.Revoke(context.Background(), revoked.SessionID); err != nil {
		t.Fatal(err)
	}

	// The owner's resources, by the path prefix whose {id} names them.
	ids := map[string]string{}
	res := testenv.Do(t, h, http.MethodPost, "/api/v1/entries", owner.AccessToken, map[string]any{"content": "the owner's words"})
	if res.Code != http.StatusCreated {
		t.Fatalf("create entry = %d %s", res.Code, res.Body)
	}
	var entry struct{ ID string }
	res.JSON(t, &entry)
	ids["/api/v1/entries/"] = entry.ID
	res = testenv.Do(t, h, http.MethodPost, "/api/v1/media/upload", owner.AccessToken, map[string]any{
		"filename": "a.png", "content_type": "image/png", "size_bytes": 10,
		"sha256": strings.Repeat("ab", 32), "entry_id": entry.ID})
	if res.Code != http.StatusCreated {
		t.Fatalf("request upload = %d %s", res.Code, res.Body)
	}
	var media struct{ Media struct{ ID string } }
	res.JSON(t, &media)
	ids["/api/v1/media/"] = media.Media.ID

	// idFor is the owner's id for a path's {id}, or a fresh one where the owner has none.
	idFor := func(path string) (string, bool) {
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix) {
				return id, true
			}
		}
		return uuid.NewString(), false
	}

	names := make([]string, 0, len(ops))
	for name := range ops {
		names = append(names, name)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		op := ops[name]
		secured := len(doc.Security) > 0
		if op.Security != nil {
			secured = len(*op.Security) > 0
		}
		if !secured {
			continue
		}
		checked++
		method, path, _ := strings.Cut(name, " ")
		id, owned := idFor(path)
		target := fillPath(path, id)
		var body any
		if len(op.RequestBody) > 0 {
			body = map[string]any{}
		}
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct{ who, token string }{{"no token", ""}, {"revoked session", revoked.AccessToken}, {"malformed token", "not-a-jwt"}} {
				res := testenv.Do(t, h, method, target, c.token, body)
				if res.Code != http.StatusUnauthorized {
					t.Errorf("%s: %s %s = %d %s, want 401", c.who, method, target, res.Code, res.Body)
				}
			}
			if !owned || !strings.Contains(path, "{") {
				return
			}
			// Another user naming the owner's resource learns nothing: 404, as for an id
			// that does not exist (a body the operation refuses may be a 422 first, which
			// says nothing about the resource either).
			res := testenv.Do(t, h, method, target, stranger.AccessToken, body)
			if res.Code != http.StatusNotFound && !(body != nil && res.Code == http.StatusUnprocessableEntity) {
				t.Errorf("another user: %s %s = %d %s, want 404", method, target, res.Code, res.Body)
			}
		})
	}
	if checked < 10 {
		t.Fatalf("only %d secured operations in the document", checked)
	}
	// The owner's resources are untouched by all of it.
	if res := testenv.Do(t, h, http.MethodGet, "/api/v1/entries/"+entry.ID, owner.AccessToken, nil); res.Code != http.StatusOK {
		t.Errorf("the owner's entry after the matrix = %d %s", res.Code, res.Body)
	}
}
