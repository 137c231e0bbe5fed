package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sampleTable has the shapes the functions' tables have: the base path itself, a literal
// segment beside a wildcard (media's /upload and /{id}), several methods on one path and
// a path below a wildcard.
func sampleTable(logger *slog.Logger) http.Handler {
	ok := func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	}
	return RouteTable{
		Service: "sample", BasePath: "/api/v1/sample", Logger: logger,
		Routes: []Route{
			{Method: http.MethodGet, Path: "", Handler: ok, Public: true},
			{Method: http.MethodPost, Path: "", Handler: ok, Public: true},
			{Method: http.MethodPost, Path: "/upload", Handler: ok, Public: true},
			{Method: http.MethodGet, Path: "/{id}", Handler: ok, Public: true},
			{Method: http.MethodDelete, Path: "/{id}", Handler: ok, Public: true},
			{Method: http.MethodPost, Path: "/{id}/restore", Handler: ok, Public: true},
		},
	}.Handler()
}

func TestRouteTableAnswers(t *testing.T) {
	h := sampleTable(nil)
	tests := []struct {
		method, path string
		wantStatus   int
		wantCode     string
		wantAllow    string
	}{
		{http.MethodGet, "/api/v1/sample", http.StatusOK, "", ""},
		{http.MethodGet, "/api/v1/sample/", http.StatusOK, "", ""},
		{http.MethodHead, "/api/v1/sample/x", http.StatusOK, "", ""},
		{http.MethodPost, "/api/v1/sample/upload", http.StatusOK, "", ""},
		{http.MethodGet, "/api/v1/sample/upload", http.StatusOK, "", ""}, // the wildcard route
		{http.MethodPost, "/api/v1/sample/x/restore/", http.StatusOK, "", ""},
		{http.MethodPut, "/api/v1/sample", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodPut, "/api/v1/sample/", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodPut, "/api/v1/sample/x", http.StatusMethodNotAllowed, "method_not_allowed", "DELETE, GET, HEAD"},
		{http.MethodPut, "/api/v1/sample/upload", http.StatusMethodNotAllowed, "method_not_allowed", "POST"}, // not /{id}'s
		{http.MethodGet, "/api/v1/sample/x/restore", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodGet, "/api/v1/sample/x/y", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/api/v1/sample/x/restore/more", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/v1/samplex", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/v1", http.StatusNotFound, "not_found", ""},
		{http.MethodDelete, "/", http.StatusNotFound, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus || rec.Header().Get("Allow") != tt.wantAllow {
				t.Fatalf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), tt.wantStatus, tt.wantAllow)
			}
			if tt.wantCode == "" {
				return
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			want := map[string]string{"not_found": ErrNoRoute.Detail, "method_not_allowed": ErrMethodNotAllowed.Detail}[tt.wantCode]
			if body.Code != tt.wantCode || body.Detail != want {
				t.Errorf("%s %s = %+v, want code %s detail %q", tt.method, tt.path, body, tt.wantCode, want)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

// TestRouteTableLogsPatterns: the access log names the route pattern, never the path with
// its ids (also behind a trailing slash), and the catch-all for what no route serves.
func TestRouteTableLogsPatterns(t *testing.T) {
	var buf strings.Builder
	h := sampleTable(slog.New(slog.NewJSONHandler(&buf, nil)))
	tests := []struct{ method, path, wantRoute string }{
		{http.MethodGet, "/api/v1/sample/5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f", "GET /api/v1/sample/{id}"},
		{http.MethodGet, "/api/v1/sample/5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f/", "GET /api/v1/sample/{id}"},
		{http.MethodPut, "/api/v1/sample/5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f", "/"},
		{http.MethodGet, "/api/v1/sample/secret/more", "/"},
	}
	for _, tt := range tests {
		buf.Reset()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		var line struct {
			Route   string `json:"route"`
			Service string `json:"service"`
		}
		if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
			t.Fatalf("log %q: %v", buf.String(), err)
		}
		if line.Route != tt.wantRoute || line.Service != "sample" {
			t.Errorf("%s %s logged route %q service %q, want %q sample", tt.method, tt.path, line.Route, line.Service, tt.wantRoute)
		}
	}
}

// TestRouteTableNeedsAuthenticator: a route that needs a token cannot be served by a table
// that has no way to check one; building such a table fails at once, not at the first
// request.
func TestRouteTableNeedsAuthenticator(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("RouteTable.Handler() with an authenticated route and no Verifier did not panic")
		}
	}()
	RouteTable{BasePath: "/api/v1/x", Routes: []Route{{Method: http.MethodGet, Path: "", Handler: func(http.ResponseWriter, *http.Request) {}}}}.Handler()
}
