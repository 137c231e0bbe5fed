package auth

import (
	"net/http"
	"strings"
	"testing"
)

// TestMalformedRequests sends each body endpoint what a broken client might, and checks
// the answer is the error shape with the contract's status and code.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	valid := map[string]string{
		"/api/v1/auth/signup":               `{"email":"x@example.test","password":"long enough","encryption_tier":"uce"}`,
		"/api/v1/auth/login":                `{"email":"x@example.test","password":"long enough"}`,
		"/api/v1/auth/refresh":              `{"refresh_token":"x"}`,
		"/api/v1/auth/verify-recovery-code": `{"email":"x@example.test","recovery_code":"x"}`,
		"/api/v1/auth/reset-password":       `{"email":"x@example.test","recovery_code":"x","new_password":"long enough"}`,
	}
	tests := []struct {
		name        string
		body        func(valid string) string
		contentType string
		status      int
		code        string
	}{
		{"bad JSON", func(string) string { return `{"email": ` }, "application/json", http.StatusBadRequest, "malformed_json"},
		{"not an object", func(string) string { return `["email"]` }, "application/json", http.StatusBadRequest, "malformed_json"},
		{"two objects", func(v string) string { return v + v }, "application/json", http.StatusBadRequest, "malformed_json"},
		{"empty body", func(string) string { return "" }, "application/json", http.StatusBadRequest, "malformed_json"},
		{"unknown field", func(v string) string { return strings.TrimSuffix(v, "}") + `,"is_admin":true}` }, "application/json", http.StatusBadRequest, "unknown_field"},
		{"oversized body", func(v string) string {
			return strings.TrimSuffix(v, "}") + `,"padding":"` + strings.Repeat("x", 20<<10) + `"}`
		}, "application/json", http.StatusRequestEntityTooLarge, "body_too_large"},
		{"text/plain", func(v string) string { return v }, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"form", func(string) string { return "email=x&password=y" }, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"no content type", func(v string) string { return v }, "", http.StatusUnsupportedMediaType, "unsupported_media_type"},
	}
	for path, v := range valid {
		for _, tt := range tests {
			t.Run(strings.TrimPrefix(path, "/api/v1/auth/")+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				resp := do(t, h.h, randomIP(t), "POST", path, "", []byte(tt.body(v)), "Content-Type", tt.contentType)
				assertError(t, resp, tt.status, tt.code)
			})
		}
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/api/v1/auth/nope", http.StatusNotFound, "not_found", ""},
		{"GET", "/api/v1/auth", http.StatusNotFound, "not_found", ""},
		{"GET", "/api/v1/auth/login", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"PUT", "/api/v1/auth/me", http.StatusMethodNotAllowed, "method_not_allowed", "DELETE, GET, HEAD"},
		{"DELETE", "/api/v1/auth/me", http.StatusUnauthorized, "not_authenticated", ""},
		{"GET", "/api/v1/auth/reset-password", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"GET", "/api/v1/auth/logout/", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"GET", "/api/v1/auth/me/", http.StatusUnauthorized, "not_authenticated", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp := do(t, h.h, randomIP(t), tt.method, tt.path, "", nil)
			assertError(t, resp, tt.status, tt.code)
			if got := resp.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if resp.Header().Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id header")
			}
		})
	}
	// Trailing slashes are accepted on POST routes too.
	resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/refresh/", "", map[string]string{"refresh_token": "x"})
	assertError(t, resp, http.StatusUnauthorized, "invalid_refresh_token")
}
