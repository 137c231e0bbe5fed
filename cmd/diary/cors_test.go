package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/shared/testenv"
)

// TestCORSAcrossGroups runs every group in-process with CORS_ALLOWED_ORIGINS set: a
// preflight of each documented operation, sent without a token, is answered 204 by the
// gateway (a group's auth would have answered 401), and each group's own 401 reaches a
// browser of the allowed origin with the CORS headers, and one of another origin without.
func TestCORSAcrossGroups(t *testing.T) {
	const origin = "http://127.0.0.1:55567"
	env := inProcessEnv(t)
	env["CORS_ALLOWED_ORIGINS"] = origin
	h := startGateway(t, diary.NewInProcess(groupFunctions()), env)
	doc := openAPIDocument(t)
	const id = "5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f"

	for name := range doc.operations(t) {
		method, path, _ := strings.Cut(name, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		t.Run("preflight "+name, func(t *testing.T) {
			res := testenv.Do(t, h, http.MethodOptions, fillPath(path, id), "", nil,
				"Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", "authorization, content-type")
			allowed := strings.Split(res.Header().Get("Access-Control-Allow-Methods"), ", ")
			if res.Code != http.StatusNoContent || res.Header().Get("Access-Control-Allow-Origin") != origin || !slices.Contains(allowed, method) {
				t.Errorf("OPTIONS %s = %d, Allow-Origin %q, Allow-Methods %q; want 204 allowing %s from %s",
					fillPath(path, id), res.Code, res.Header().Get("Access-Control-Allow-Origin"), allowed, method, origin)
			}
		})
	}
	for _, path := range []string{"/api/v1/auth/me", "/api/v1/entries", "/api/v1/media", "/api/v1/jobs/" + id} {
		for _, from := range []string{origin, "http://127.0.0.1:55568"} {
			t.Run("401 of "+path+" to "+from, func(t *testing.T) {
				res := testenv.Do(t, h, http.MethodGet, path, "", nil, "Origin", from)
				if res.Code != http.StatusUnauthorized {
					t.Fatalf("GET %s = %d %s, want the group's 401", path, res.Code, res.Body)
				}
				want := ""
				if from == origin {
					want = origin
				}
				if got := res.Header().Get("Access-Control-Allow-Origin"); got != want {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, want)
				}
				if want != "" && res.Header().Get("Access-Control-Expose-Headers") != "ETag, Location, Retry-After, Content-Disposition" {
					t.Errorf("Access-Control-Expose-Headers = %q", res.Header().Get("Access-Control-Expose-Headers"))
				}
			})
		}
	}
}
