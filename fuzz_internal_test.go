package diary

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
)

// recordingGroup is an in-process group that notes the paths it is asked for.
type recordingGroup struct {
	name string
	seen *[]string
}

func (g recordingGroup) Handle(w http.ResponseWriter, r *http.Request) {
	*g.seen = append(*g.seen, g.name+" "+r.URL.Path)
	w.WriteHeader(http.StatusTeapot)
}

// FuzzGatewayPath feeds the gateway request targets, methods and Origin headers, with
// every group in-process. It never panics or answers 5xx; a request reaches at most one
// group, and the path that group sees is clean (no "..", ".", "//" or trailing slash: the
// mux redirects those first) and one of the group's own, so no spelling of a path routes
// one group's request into another.
func FuzzGatewayPath(f *testing.F) {
	for _, s := range []string{"/api/v1/entries", "/api/v1/entries/", "/api/v1/entries/x/", "/api/v1/media/../auth/login",
		"/api/v1/media/%2e%2e/auth/login", "/api/v1//entries", "/api/v1/export?format=diary", "/api/v1/imports/x", "/api/v1/exports",
		"/api/v1/auth%2Flogin", "/api/v1", "/api/v1/openapi.json", "/api/v1/docs/", "/health", "/api/v1/entries/%00", "/api/v1/./jobs",
		"/API/V1/entries", "/api/v1/integrations/facebook/data-deletion/abc", "*"} {
		f.Add(http.MethodGet, s, "")
		f.Add(http.MethodOptions, s, "https://app.example")
	}
	f.Add("PROPFIND", "/api/v1/auth/login", "null")
	seen := []string{}
	fns := map[string]HTTPFunction{}
	for _, g := range groups {
		fns[g.name] = recordingGroup{name: g.name, seen: &seen}
	}
	gw := NewInProcess(fns)
	if err := gw.Start(context.Background(), map[string]string{"METRICS_ADDRESS": "127.0.0.1:0", "CORS_ALLOWED_ORIGINS": "https://app.example"}); err != nil {
		f.Fatalf("Start() = %v", err)
	}
	f.Cleanup(func() { _ = gw.Stop(context.Background()) })
	f.Fuzz(func(t *testing.T, method, target, origin string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			return // the server answers 400 before any handler
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL, r.RequestURI = method, u, target
		if origin != "" {
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", http.MethodPost)
		}
		seen = seen[:0]
		w := httptest.NewRecorder()
		gw.Handle(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q = %d %s", method, target, w.Code, w.Body)
		}
		if len(seen) > 1 {
			t.Fatalf("%s %q reached %q", method, target, seen)
		}
		for _, s := range seen {
			name, p, _ := strings.Cut(s, " ")
			var g group
			for _, gg := range groups {
				if gg.name == name {
					g = gg
				}
			}
			if path.Clean(p) != p || !g.owns(p) {
				t.Fatalf("%s %q reached %s as %q", method, target, name, p)
			}
		}
	})
}
