package auth

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/testenv"
)

// assertRateLimited checks a 429 whose Retry-After lies within the window.
func assertRateLimited(t *testing.T, resp testenv.Response, window time.Duration) {
	t.Helper()
	assertError(t, resp, http.StatusTooManyRequests, "rate_limited")
	secs, err := strconv.Atoi(resp.Header().Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > window {
		t.Errorf("Retry-After = %q, want whole seconds in [1, %v]", resp.Header().Get("Retry-After"), window)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_IP_LIMIT", "1", "LOGIN_RATE_IP_WINDOW", "1m")
	a := insertAccount(t, h, "e2e")
	ip := randomIP(t)
	// One attempt on an unknown account from an address, then the limit holds even for a
	// correct password; another address is not affected.
	assertError(t, do(t, h.h, ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"}),
		http.StatusUnauthorized, "invalid_credentials")
	right := map[string]string{"email": a.Email, "password": a.Password}
	assertRateLimited(t, do(t, h.h, ip, "POST", "/api/v1/auth/login", "", right), time.Minute)
	// An IPv6 client is counted by its /64.
	sameNet := netip.MustParseAddr(ip).Next().String()
	assertRateLimited(t, do(t, h.h, sameNet, "POST", "/api/v1/auth/login", "", right), time.Minute)
	if resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", right); resp.Code != http.StatusOK {
		t.Errorf("POST /login from another address = %d %s, want 200", resp.Code, resp.Body)
	}
	// Recovery-code checks are counted apart from logins.
	if resp := do(t, h.h, ip, "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0]}); resp.Code != http.StatusOK {
		t.Errorf("POST /verify-recovery-code from the limited address = %d %s, want 200", resp.Code, resp.Body)
	}
}

func TestLoginRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "1", "LOGIN_RATE_ACCOUNT_WINDOW", "15m")
	a := insertAccount(t, h, "uce")
	wrong := map[string]string{"email": a.Email, "password": "not the password"}
	right := map[string]string{"email": a.Email, "password": a.Password}
	// Successes do not add up: each one clears the count, or the second would be refused.
	for i := range 2 {
		if resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", right); resp.Code != http.StatusOK {
			t.Fatalf("POST /login #%d = %d %s, want 200", i+1, resp.Code, resp.Body)
		}
	}
	// A failure uses up the limit: the account is locked for every address, whatever the
	// password, until the window ends.
	assertError(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", wrong), http.StatusUnauthorized, "invalid_credentials")
	assertRateLimited(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", right), 15*time.Minute)
	assertRateLimited(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "",
		map[string]string{"email": strings.ToUpper(a.Email), "password": a.Password}), 15*time.Minute)
}

func TestRecoveryCodeRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "2")
	a := insertAccount(t, h, "e2e")
	for range 2 {
		resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": "WRONG-CODE"})
		assertError(t, resp, http.StatusUnauthorized, "invalid_recovery_code")
	}
	resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0]})
	assertRateLimited(t, resp, 15*time.Minute)
}

func TestSignupRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	const limit = 3
	h := newHarness(t, nil, "SIGNUP_RATE_IP_LIMIT", strconv.Itoa(limit), "SIGNUP_RATE_IP_WINDOW", "1h")
	newSignup := func() map[string]any {
		return map[string]any{"email": randomEmail(), "password": "correct horse battery", "encryption_tier": "e2e", "public_key": newPublicKey(t)}
	}
	ip := randomIP(t)
	// Invalid requests cost nothing and are not counted.
	for range limit + 1 {
		invalid := newSignup()
		invalid["password"] = "short"
		assertError(t, do(t, h.h, ip, "POST", "/api/v1/auth/signup", "", invalid), http.StatusUnprocessableEntity, "validation_error")
	}
	first := newSignup()
	for i := range limit {
		body := newSignup()
		if i == 0 {
			body = first
		}
		if resp := do(t, h.h, ip, "POST", "/api/v1/auth/signup", "", body); resp.Code != http.StatusCreated {
			t.Fatalf("POST /signup #%d from one address = %d %s, want 201", i+1, resp.Code, resp.Body)
		}
	}
	// The next signup is refused and creates nothing; a taken email gets the same 429, so
	// the limit also bounds finding out which emails have accounts.
	refused := newSignup()
	assertRateLimited(t, do(t, h.h, ip, "POST", "/api/v1/auth/signup", "", refused), time.Hour)
	var n int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, refused["email"]).Scan(&n); err != nil || n != 0 {
		t.Errorf("users with the refused signup's email = %d, %v, want 0", n, err)
	}
	assertRateLimited(t, do(t, h.h, ip, "POST", "/api/v1/auth/signup", "", first), time.Hour)
	// An IPv6 client is counted by its /64.
	sameNet := netip.MustParseAddr(ip).Next().String()
	assertRateLimited(t, do(t, h.h, sameNet, "POST", "/api/v1/auth/signup", "", newSignup()), time.Hour)
	// Another address is not affected, nor are logins from the limited one.
	if resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/signup", "", newSignup()); resp.Code != http.StatusCreated {
		t.Errorf("POST /signup from another address = %d %s, want 201", resp.Code, resp.Body)
	}
	login := map[string]string{"email": first["email"].(string), "password": first["password"].(string)}
	if resp := do(t, h.h, ip, "POST", "/api/v1/auth/login", "", login); resp.Code != http.StatusOK {
		t.Errorf("POST /login from the signup-limited address = %d %s, want 200", resp.Code, resp.Body)
	}
}

// TestForwardedForIgnoredByDefault checks a client cannot escape the per-address limit by
// sending its own X-Forwarded-For when no proxy is trusted.
func TestForwardedForIgnoredByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_IP_LIMIT", "1")
	ip := randomIP(t)
	for i := range 1 {
		resp := do(t, h.h, ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
			"X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
	}
	resp := do(t, h.h, ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
		"X-Forwarded-For", "198.51.100.77")
	assertRateLimited(t, resp, time.Minute)
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies trusted: the peer", "203.0.113.5:4000", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"untrusted peer: header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, trusted, "203.0.113.5"},
		{"trusted peer: the hop it appended", "10.0.0.2:4000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"spoofed leftmost hop is skipped", "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.2:4000", []string{"198.51.100.1, 10.0.0.9", "10.1.1.1"}, trusted, "198.51.100.1"},
		{"all hops trusted: the leftmost", "10.0.0.2:4000", []string{"10.0.0.7, 10.0.0.8"}, trusted, "10.0.0.7"},
		{"trusted peer without header", "10.0.0.2:4000", nil, trusted, "10.0.0.2"},
		{"garbage hop stops at the proxy", "10.0.0.2:4000", []string{"198.51.100.1, not-an-ip"}, trusted, "10.0.0.2"},
		{"hop with a port", "10.0.0.2:4000", []string{"198.51.100.1:5555"}, trusted, "198.51.100.1"},
		{"IPv6 peer", "[2001:db8::7]:4000", nil, nil, "2001:db8::7"},
		{"IPv6 hop behind an IPv6 proxy", "[fd00::1]:4000", []string{"2001:db8::9"}, trusted, "2001:db8::9"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.5]:4000", nil, nil, "203.0.113.5"},
		{"no peer address", "", nil, nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "/api/v1/auth/login", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tt.trusted).String(); got != tt.want {
				t.Errorf("clientIP(%q, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestAddressBucket(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"203.0.113.5", "203.0.113.5"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		if got := addressBucket(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("addressBucket(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
	if got := addressBucket(netip.Addr{}); got != "unknown" {
		t.Errorf("addressBucket(invalid) = %s, want unknown", got)
	}
}

// TestForwardedForFromTrustedProxy checks that behind a trusted proxy each client is
// counted by the address the proxy forwarded.
func TestForwardedForFromTrustedProxy(t *testing.T) {
	t.Parallel()
	proxy := randomIP(t)
	h := newHarness(t, nil, "LOGIN_RATE_IP_LIMIT", "1", "TRUSTED_PROXIES", "10.0.0.0/8, "+proxy)
	client := randomIP(t)
	for range 1 {
		resp := do(t, h.h, proxy, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
			"X-Forwarded-For", client)
		assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
	}
	assertRateLimited(t, do(t, h.h, proxy, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
		"X-Forwarded-For", client), time.Minute)
	// Another client behind the same proxy is counted on its own.
	resp := do(t, h.h, proxy, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
		"X-Forwarded-For", randomIP(t))
	assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
}
