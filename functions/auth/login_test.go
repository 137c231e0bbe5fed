package auth

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tier := range []string{"e2e", "uce"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := sharedAccount(t, h, tier)
			// Emails match case-insensitively and around spaces.
			resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/login", "",
				map[string]string{"email": " " + strings.ToUpper(a.Email) + " ", "password": a.Password})
			if resp.Code != http.StatusOK {
				t.Fatalf("POST /login = %d %s, want 200", resp.Code, resp.Body)
			}
			var got apiSession
			resp.JSON(t, &got)
			if got.User != a.User {
				t.Errorf("login user = %+v, want %+v", got.User, a.User)
			}
			if got.TokenType != "bearer" || got.ExpiresIn != 900 || got.AccessToken == a.AccessToken || got.RefreshToken == a.RefreshToken {
				t.Errorf("login tokens = %+v, want a new bearer pair expiring in 900", got.apiPair)
			}
			if me := do(t, h.h, a.ip, "GET", "/api/v1/auth/me", got.AccessToken, nil); me.Code != http.StatusOK {
				t.Errorf("GET /me with the login token = %d %s, want 200", me.Code, me.Body)
			}
			// The uce master key is unwrapped into the new session: the same key as at signup.
			if tier == "uce" {
				if !bytes.Equal(sessionMasterKey(t, h, got.AccessToken), sessionMasterKey(t, h, a.AccessToken)) {
					t.Errorf("the login session's master key differs from the signup session's")
				}
			}
		})
	}
}

// TestLoginFailuresLookAlike checks that a wrong password and an unknown email get
// byte-identical answers, so the answer never tells whether an email has an account.
func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := sharedAccount(t, h, "uce")
	wrongPassword := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": "not the password"})
	unknownEmail := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "not the password"})
	assertError(t, wrongPassword, http.StatusUnauthorized, "invalid_credentials")
	assertError(t, unknownEmail, http.StatusUnauthorized, "invalid_credentials")
	if w, u := wrongPassword.Body.String(), unknownEmail.Body.String(); w != u {
		t.Errorf("wrong password body = %q, unknown email body = %q, want them identical", w, u)
	}
	for _, k := range []string{"Content-Type", "Retry-After", "Www-Authenticate"} {
		if w, u := wrongPassword.Header().Get(k), unknownEmail.Header().Get(k); w != u {
			t.Errorf("header %s: wrong password %q, unknown email %q, want them identical", k, w, u)
		}
	}
}

func TestLoginRequiresFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tests := []struct {
		name  string
		body  map[string]string
		field string
	}{
		{"no email", map[string]string{"password": "whatever it is"}, "email"},
		{"blank email", map[string]string{"email": "  ", "password": "whatever it is"}, "email"},
		{"no password", map[string]string{"email": randomEmail()}, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", tt.body)
			e := assertError(t, resp, http.StatusUnprocessableEntity, "validation_error")
			if e.Fields[tt.field] == "" {
				t.Errorf("POST /login fields = %v, want a message for %q", e.Fields, tt.field)
			}
		})
	}
}
