package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
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

// TestRecoveryCodeRateLimit checks recovery-code checks follow the login rules in a scope
// of their own: past the account's ceiling an address that never succeeded waits, one
// that did (here by logging in) goes on.
func TestRecoveryCodeRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "2")
	a := insertAccount(t, h, "e2e")
	login(t, h, a) // a.ip is now known to the account
	for range 2 {
		resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": "WRONG-CODE"})
		assertError(t, resp, http.StatusUnauthorized, "invalid_recovery_code")
	}
	resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0]})
	assertRateLimited(t, resp, 15*time.Minute)
	resp = do(t, h.h, a.ip, "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0]})
	if resp.Code != http.StatusOK {
		t.Errorf("POST /verify-recovery-code from the owner's address past the ceiling = %d %s, want 200", resp.Code, resp.Body)
	}
	// Logins are counted apart: the recovery failures did not touch the login ceiling.
	resp = do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	if resp.Code != http.StatusOK {
		t.Errorf("POST /login from a new address after recovery-code failures = %d %s, want 200", resp.Code, resp.Body)
	}
}

// TestStrangersDoNotLockOwnerOut is the lockout the old per-account counter allowed: with
// the default settings, strangers' failures from other addresses, far past the account's
// ceiling, do not stop the owner logging in from an address they have logged in from.
func TestStrangersDoNotLockOwnerOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "uce")
	login(t, h, a)
	wrong := map[string]string{"email": a.Email, "password": "not the password"}
	for i := range 10 {
		resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", wrong)
		if i < h.cfg.LoginRateAccountLimit {
			assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
		} else {
			assertRateLimited(t, resp, h.cfg.LoginRateAccountWindow)
		}
	}
	// One stranger keeps trying from one address until it is made to wait.
	stranger := randomIP(t)
	for range 10 {
		if resp := do(t, h.h, stranger, "POST", "/api/v1/auth/login", "", wrong); resp.Code == http.StatusTooManyRequests {
			break
		}
	}
	for _, email := range []string{a.Email, strings.ToUpper(a.Email)} {
		resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": a.Password})
		if resp.Code != http.StatusOK {
			t.Errorf("POST /login (%s) from the owner's address after strangers' failures = %d %s, want 200", email, resp.Code, resp.Body)
		}
	}
}

// TestFailuresSlowOnlyTheirAddress checks an address that keeps failing on an account is
// made to wait, and that an address with no failures is not held back by it.
func TestFailuresSlowOnlyTheirAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "100", "LOGIN_FREE_FAILURES", "3", "LOGIN_FAILURE_DELAY", "1m")
	a := insertAccount(t, h, "e2e")
	stranger := randomIP(t)
	wrong := map[string]string{"email": a.Email, "password": "not the password"}
	for range 3 {
		assertError(t, do(t, h.h, stranger, "POST", "/api/v1/auth/login", "", wrong), http.StatusUnauthorized, "invalid_credentials")
	}
	resp := do(t, h.h, stranger, "POST", "/api/v1/auth/login", "", wrong)
	assertRateLimited(t, resp, time.Minute)
	// Even the right password waits there: the delay is on the address, not the guess.
	resp = do(t, h.h, stranger, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	assertRateLimited(t, resp, time.Minute)
	// The owner, from an address that has not failed and was never used before, gets in.
	resp = do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	if resp.Code != http.StatusOK {
		t.Errorf("POST /login from a clean address = %d %s, want 200", resp.Code, resp.Body)
	}
	// The delay is per account: the stranger's address may still try another one.
	resp = do(t, h.h, stranger, "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"})
	assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
}

// TestFailureCeiling checks a brute force spread over many addresses is stopped by the
// account's ceiling: past it, an address that never succeeded on the account waits for the
// window, whatever password it sends, while one the owner has logged in from goes on; the
// owner's success does not reopen the account to the others.
func TestFailureCeiling(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_ACCOUNT_LIMIT", "3", "LOGIN_RATE_ACCOUNT_WINDOW", "15m")
	a := insertAccount(t, h, "uce")
	login(t, h, a)
	wrong := map[string]string{"email": a.Email, "password": "not the password"}
	right := map[string]string{"email": a.Email, "password": a.Password}
	for range 3 {
		assertError(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", wrong), http.StatusUnauthorized, "invalid_credentials")
	}
	assertRateLimited(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", wrong), 15*time.Minute)
	assertRateLimited(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", right), 15*time.Minute)
	if resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/login", "", right); resp.Code != http.StatusOK {
		t.Fatalf("POST /login from the owner's address past the ceiling = %d %s, want 200", resp.Code, resp.Body)
	}
	assertRateLimited(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", wrong), 15*time.Minute)
	// The address an account was signed up from is its owner's too.
	s := signup(t, h, "e2e")
	for range 3 {
		assertError(t, do(t, h.h, randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": s.Email, "password": "nope"}),
			http.StatusUnauthorized, "invalid_credentials")
	}
	if resp := do(t, h.h, s.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": s.Email, "password": s.Password}); resp.Code != http.StatusOK {
		t.Errorf("POST /login from the signup address past the ceiling = %d %s, want 200", resp.Code, resp.Body)
	}
}

// TestFailureDelaysGrow drives the limiter on a fake clock: after the free failures each
// failure doubles the wait of the address's next attempt, up to the window; a success
// forgets the failures, and an attempt that got no answer is not counted.
func TestFailureDelaysGrow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &rateLimiter{
		rdb: h.svc.Redis, key: []byte(randomEmail()),
		ip:           limit{max: 1000, window: time.Hour},
		account:      limit{max: 1000, window: 15 * time.Minute},
		freeFailures: 2, failureDelay: time.Second, knownTTL: time.Hour,
		now: func() time.Time { return clock },
	}
	ip, email := netip.MustParseAddr(randomIP(t)), randomEmail()
	ctx := t.Context()
	// begin counts a failure; it answers the wait it imposed, 0 when admitted.
	next := func() time.Duration {
		t.Helper()
		_, err := l.begin(ctx, scopeLogin, ip, email)
		var apiErr *httpapi.Error
		switch {
		case err == nil:
			return 0
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests:
			return apiErr.RetryAfter
		}
		t.Fatalf("begin() = %v", err)
		return 0
	}
	fail := func() {
		t.Helper()
		if wait := next(); wait != 0 {
			t.Fatalf("begin() after waiting = refused for %v, want admitted", wait)
		}
	}
	fail()
	fail()
	var got []time.Duration
	for range 12 {
		wait := next()
		got = append(got, wait)
		if wait == 0 {
			break
		}
		if again := next(); again != wait {
			t.Errorf("begin() again at once = wait %v, want the same %v", again, wait)
		}
		clock = clock.Add(wait - time.Millisecond)
		if early := next(); early != time.Millisecond {
			t.Errorf("begin() a millisecond early = wait %v, want 1ms", early)
		}
		clock = clock.Add(time.Millisecond)
		fail()
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Errorf("waits after each failure = %v, want %v", got, want)
	}

	// A success forgets them: two free failures again.
	clock = clock.Add(15 * time.Minute)
	att, err := l.begin(ctx, scopeLogin, ip, email)
	if err != nil {
		t.Fatalf("begin() after the last wait = %v", err)
	}
	if err := att.succeeded(ctx); err != nil {
		t.Fatalf("succeeded() = %v", err)
	}
	fail()
	// An unanswered attempt gives its count back.
	att, err = l.begin(ctx, scopeLogin, ip, email)
	if err != nil {
		t.Fatalf("begin() = %v", err)
	}
	att.abandon(ctx)
	fail()
	if wait := next(); wait != time.Second {
		t.Errorf("wait after two failures and an unanswered attempt = %v, want 1s", wait)
	}
}

// TestSpoofedForwardedForStillLimited is the bypass of the issue: behind trusted proxies on
// loopback and 10/8, 30 wrong logins each naming a different private address in
// X-Forwarded-For come from one client, and are rate limited as one.
func TestSpoofedForwardedForStillLimited(t *testing.T) {
	t.Parallel()
	const limit = 3
	// A session key of its own gives the limiter fresh keys, so the shared loopback
	// address starts at zero whatever ran before.
	key, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, "TRUSTED_PROXIES", "127.0.0.0/8,10.0.0.0/8", "SESSION_KEY", base64.StdEncoding.EncodeToString(key),
		"LOGIN_RATE_IP_LIMIT", strconv.Itoa(limit), "LOGIN_RATE_IP_WINDOW", "1h")
	for i := range 30 {
		spoofed := fmt.Sprintf("10.%d.%d.1", 1+i, 200-i)
		resp := do(t, h.h, "127.0.0.1", "POST", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "a guess"},
			"X-Forwarded-For", spoofed)
		if i < limit {
			assertError(t, resp, http.StatusUnauthorized, "invalid_credentials")
		} else {
			assertRateLimited(t, resp, time.Hour)
		}
	}
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
