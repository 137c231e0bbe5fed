package auth

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
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

// TestBcryptBoundFull checks that with the bcrypt bound at 1 and its slot held, a login
// (known email or not) and a signup answer 503 with Retry-After once the wait for a slot
// runs out, rather than hanging; that the unanswered logins do not count as failures; and
// that logins work again once the slot is free.
func TestBcryptBoundFull(t *testing.T) {
	t.Parallel()
	// No free failures and an hour's delay: a single counted failure would make the
	// owner's address wait.
	h := newHarness(t, nil, "BCRYPT_CONCURRENCY", "1", "LOGIN_FREE_FAILURES", "0", "LOGIN_FAILURE_DELAY", "1h")
	bound := crypto.NewBound(1)
	handler := h.rebuilt(t, nil, func(s *server) {
		s.passwords = crypto.NewPasswords(bound)
		s.bcryptWait = 50 * time.Millisecond
	})
	a := insertAccount(t, h, "e2e")
	if err := bound.Acquire(t.Context()); err != nil {
		t.Fatalf("Acquire() = %v", err)
	}
	held := true
	defer func() {
		if held {
			bound.Release()
		}
	}()

	known := do(t, handler, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	unknown := do(t, handler, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": a.Password})
	signup := do(t, handler, a.ip, "POST", "/api/v1/auth/signup", "",
		map[string]any{"email": randomEmail(), "password": "correct horse battery", "encryption_tier": "e2e", "public_key": newPublicKey(t)})
	for name, resp := range map[string]testenv.Response{"login": known, "login, unknown email": unknown, "signup": signup} {
		assertError(t, resp, http.StatusServiceUnavailable, "service_unavailable")
		if got := resp.Header().Get("Retry-After"); got != "5" {
			t.Errorf("%s: Retry-After = %q, want 5", name, got)
		}
	}
	if k, u := known.Body.String(), unknown.Body.String(); k != u {
		t.Errorf("busy answers differ: known email %q, unknown email %q", k, u)
	}

	bound.Release()
	held = false
	if resp := do(t, handler, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password}); resp.Code != http.StatusOK {
		t.Errorf("POST /login once the slot is free = %d %s, want 200", resp.Code, resp.Body)
	}
}

// TestRequestBudget checks auth's slowest request, a uce login (a wait for a bcrypt slot,
// then for an Argon2id slot, then the work), fits in the budget the gateway's
// UPSTREAM_TIMEOUT is checked against.
func TestRequestBudget(t *testing.T) {
	if got := bcryptWait + kdfWait + workAllowance; got > platform.RequestBudget {
		t.Errorf("bcryptWait + kdfWait + workAllowance = %v, want at most platform.RequestBudget %v", got, platform.RequestBudget)
	}
}
