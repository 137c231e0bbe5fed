package diary

import (
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestAPIReferenceRoute: the gateway serves the reference page at /api/v1/docs (trailing
// slash too) with its policy, to GET only, and answers what is not there in the error
// shape. scripts/browser-check renders it in Chromium.
func TestAPIReferenceRoute(t *testing.T) {
	upstream, seen := newUpstream(t)
	h := http.HandlerFunc(startGateway(t, proxiedEnv(upstream.URL, "PUBLIC_URL", "https://api.diary.example.test")).Handle)
	for _, path := range []string{"/api/v1/docs", "/api/v1/docs/"} {
		res := testenv.Do(t, h, http.MethodGet, path, "", nil)
		if res.Code != http.StatusOK || !strings.HasPrefix(res.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(res.Body.String(), "/api/v1/docs/swagger-ui-bundle.js") {
			t.Errorf("GET %s = %d %q, want the reference page", path, res.Code, res.Header().Get("Content-Type"))
		}
		if csp := res.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' https://api.diary.example.test") {
			t.Errorf("GET %s: Content-Security-Policy %q, want connect-src to the page and PUBLIC_URL", path, csp)
		}
	}
	if res := testenv.Do(t, h, http.MethodGet, "/api/v1/docs/swagger-ui.css", "", nil); res.Code != http.StatusOK || res.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("GET the stylesheet = %d %q, want 200 text/css", res.Code, res.Header().Get("Content-Type"))
	}
	wantError(t, testenv.Do(t, h, http.MethodGet, "/api/v1/docs/nope.js", "", nil), http.StatusNotFound, "not_found")
	wantError(t, testenv.Do(t, h, http.MethodPost, "/api/v1/docs", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	if n := len(seen()); n != 0 {
		t.Errorf("%d requests reached a group; the page is the gateway's", n)
	}
}
