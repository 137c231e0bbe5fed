package apidocs

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestViewerIsThePinnedRelease: every file under swagger-ui/ is listed in SOURCE with the
// SHA-256 it has in the npm package, so the committed viewer is the release unchanged, and
// its license travels with it.
func TestViewerIsThePinnedRelease(t *testing.T) {
	raw, err := os.ReadFile("swagger-ui/SOURCE")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if sum, name, ok := strings.Cut(line, "  "); ok && !strings.HasPrefix(line, "#") {
			listed[name] = sum
		}
	}
	entries, err := files.ReadDir("swagger-ui")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "SOURCE" {
			continue
		}
		b, err := files.ReadFile("swagger-ui/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); listed[e.Name()] != got {
			t.Errorf("swagger-ui/%s has SHA-256 %s, SOURCE lists %q", e.Name(), got, listed[e.Name()])
		}
		delete(listed, e.Name())
	}
	for name := range listed {
		t.Errorf("SOURCE lists %s, which is not embedded", name)
	}
	for _, name := range []string{"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} {
		if _, err := files.ReadFile("swagger-ui/" + name); err != nil {
			t.Errorf("the viewer's %s is missing: %v", name, err)
		}
	}
}

// serve GETs path from h through testenv.Do, so the page's answer is checked against the
// API document too.
func serve(t *testing.T, h http.Handler, path string) testenv.Response {
	t.Helper()
	return testenv.Do(t, h, http.MethodGet, path, "", nil)
}

// TestPageAndAssets: the page and every file it references are served with their types
// and the policy; other names below the base path are not found.
func TestPageAndAssets(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h, err := Handler("", notFound)
	if err != nil {
		t.Fatal(err)
	}
	page := serve(t, h, BasePath)
	if page.Code != http.StatusOK || page.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET %s = %d %q, want 200 text/html", BasePath, page.Code, page.Header().Get("Content-Type"))
	}
	if strings.Contains(page.Body.String(), "<script>") || strings.Contains(page.Body.String(), "style=") {
		t.Errorf("the page has an inline script or style, which its policy refuses")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d files, want the bundle, its stylesheet and init.js at least", len(refs))
	}
	for _, ref := range refs {
		if ref[1] == "/api/v1/openapi.json" {
			continue
		}
		res := serve(t, h, ref[1])
		if res.Code != http.StatusOK || res.Body.Len() == 0 || res.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d (%d bytes, nosniff %q), want 200 with a body", ref[1], res.Code, res.Body.Len(), res.Header().Get("X-Content-Type-Options"))
		}
		want := map[string]string{".js": "text/javascript", ".css": "text/css", ".png": "image/png"}[ref[1][strings.LastIndex(ref[1], "."):]]
		if !strings.HasPrefix(res.Header().Get("Content-Type"), want) || want == "" {
			t.Errorf("GET %s: Content-Type %q, want %q", ref[1], res.Header().Get("Content-Type"), want)
		}
	}
	for _, path := range []string{BasePath + "/LICENSE", BasePath + "/swagger-ui/swagger-ui.css", BasePath + "/../openapi.json", BasePath + "/nope.js", BasePath + "x"} {
		if res := serve(t, h, path); res.Code != http.StatusTeapot {
			t.Errorf("GET %s = %d, want the not-found handler's answer", path, res.Code)
		}
	}
}

// TestContentSecurityPolicy: nothing but the API's own origin (and the public URL, for
// "Try it out") is allowed, and a bad PUBLIC_URL is refused.
func TestContentSecurityPolicy(t *testing.T) {
	for _, tc := range []struct{ publicURL, connect string }{
		{"", "connect-src 'self';"},
		{"https://api.diary.example.test/", "connect-src 'self' https://api.diary.example.test;"},
	} {
		h, err := Handler(tc.publicURL, http.NotFoundHandler())
		if err != nil {
			t.Fatal(err)
		}
		csp := serve(t, h, BasePath).Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none';", "script-src 'self';", "style-src 'self';", "img-src 'self' data:;", tc.connect, "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("PUBLIC_URL %q: Content-Security-Policy %q lacks %q", tc.publicURL, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("Content-Security-Policy %q allows unsafe sources or wildcards", csp)
		}
	}
	if _, err := Handler("diary.example.test", http.NotFoundHandler()); err == nil {
		t.Errorf("Handler(PUBLIC_URL without scheme) = nil error, want one naming PUBLIC_URL")
	}
}
