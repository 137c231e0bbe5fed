package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/token"
)

func TestMe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := sharedAccount(t, h, "e2e")
	resp := do(t, h.h, a.ip, "GET", "/api/v1/auth/me/", a.AccessToken, nil) // a trailing slash is accepted
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /me = %d %s, want 200", resp.Code, resp.Body)
	}
	var shape map[string]any
	resp.JSON(t, &shape)
	for _, k := range []string{"id", "email", "encryption_tier", "public_key", "created_at"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("GET /me = %s, want a %q field", resp.Body, k)
		}
	}
	if len(shape) != 5 {
		t.Errorf("GET /me has %d fields, want exactly 5: %s", len(shape), resp.Body)
	}
	assertError(t, do(t, h.h, a.ip, "GET", "/api/v1/auth/me", "", nil), http.StatusUnauthorized, "not_authenticated")
}

func TestFeatures(t *testing.T) {
	t.Parallel()
	// integrations is true only with a Facebook app configured (FACEBOOK_APP_ID).
	off := newHarness(t, nil, "STORAGE_QUOTA_BYTES", "123456789", "FACEBOOK_APP_ID", "")
	on := newHarness(t, nil, "STORAGE_QUOTA_BYTES", "123456789", "FACEBOOK_APP_ID", "1234567890")
	tests := []struct {
		tier                     string
		h                        harness
		search, server, client   bool
		media, integrationsFlags bool
	}{
		{"uce", off, true, true, false, true, false},
		{"e2e", off, false, false, true, true, false},
		{"uce", on, true, true, false, true, true},
		{"e2e", on, false, false, true, true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s integrations %v", tt.tier, tt.integrationsFlags), func(t *testing.T) {
			t.Parallel()
			h := tt.h
			u := testenv.NewUser(t, h.svc, tt.tier)
			resp := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/features", u.AccessToken, nil)
			if resp.Code != http.StatusOK {
				t.Fatalf("GET /features = %d %s, want 200", resp.Code, resp.Body)
			}
			var got struct {
				EncryptionTier string           `json:"encryption_tier"`
				Features       map[string]bool  `json:"features"`
				Storage        map[string]int64 `json:"storage"`
			}
			resp.JSON(t, &got)
			want := map[string]bool{"search": tt.search, "server_side_encryption": tt.server,
				"client_side_encryption": tt.client, "media": tt.media, "integrations": tt.integrationsFlags}
			if got.EncryptionTier != tt.tier || len(got.Features) != len(want) {
				t.Errorf("GET /features = %s, want tier %q and %d features", resp.Body, tt.tier, len(want))
			}
			for k, v := range want {
				if f, ok := got.Features[k]; !ok || f != v {
					t.Errorf("features.%s = %v (present %v), want %v", k, f, ok, v)
				}
			}
			if got.Storage["used_bytes"] != 0 || got.Storage["quota_bytes"] != 123456789 || len(got.Storage) != 2 {
				t.Errorf("storage = %v, want used_bytes 0 and quota_bytes 123456789", got.Storage)
			}
		})
	}
}

// mustSession returns the session id behind an access token.
func mustSession(t *testing.T, h harness, access string) string {
	t.Helper()
	claims, err := h.svc.Verifier.Verify(access)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	return claims.SessionID
}

// TestForgedAccessTokensRejected presents tokens a client must never get accepted.
func TestForgedAccessTokensRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	env := testenv.Env(t)
	realKey, err := token.ParsePrivateKey(env["JWT_PRIVATE_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	pubRaw, err := base64.StdEncoding.DecodeString(env["JWT_PUBLIC_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, aud := h.cfg.JWTIssuer, h.cfg.JWTAudience
	claims := func(edit func(*token.Claims)) token.Claims {
		now := time.Now()
		c := token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: iss, Subject: u.ID, Audience: jwt.ClaimStrings{aud},
				ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
				NotBefore: jwt.NewNumericDate(now), ID: uuid.NewString(),
			},
			SessionID: u.SessionID, Tier: "uce",
		}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c token.Claims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatalf("sign %s: %v", method.Alg(), err)
		}
		return s
	}

	// The same claims signed with the real key pass, so each failure below is down to the
	// one thing changed.
	if resp := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/me", sign(jwt.SigningMethodEdDSA, realKey, claims(nil)), nil); resp.Code != http.StatusOK {
		t.Fatalf("GET /me with a well-formed token = %d %s, want 200", resp.Code, resp.Body)
	}

	loggedOut := insertAccount(t, h, "e2e")
	if resp := do(t, h.h, loggedOut.ip, "POST", "/api/v1/auth/logout", loggedOut.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("POST /logout = %d %s, want 204", resp.Code, resp.Body)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"signed by another Ed25519 key", sign(jwt.SigningMethodEdDSA, otherKey, claims(nil))},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))},
		{"HS256 keyed with the public key bytes", sign(jwt.SigningMethodHS256, pubRaw, claims(nil))},
		{"HS256 keyed with the public key's base64", sign(jwt.SigningMethodHS256, []byte(env["JWT_PUBLIC_KEY"]), claims(nil))},
		{"expired", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
			c.NotBefore = c.IssuedAt
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
		}))},
		{"without expiry", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) { c.ExpiresAt = nil }))},
		{"wrong audience", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) { c.Audience = jwt.ClaimStrings{"another-api"} }))},
		{"wrong issuer", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) { c.Issuer = "someone-else" }))},
		{"another user's session", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) { c.SessionID = other.SessionID }))},
		{"unknown session", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c *token.Claims) { c.SessionID = uuid.NewString() }))},
		{"from a logged-out session", loggedOut.AccessToken},
		{"garbage", "not.a.jwt"},
		{"truncated signature", sign(jwt.SigningMethodEdDSA, realKey, claims(nil))[:100]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/api/v1/auth/me", "/api/v1/auth/features"} {
				assertError(t, do(t, h.h, randomIP(t), "GET", path, tt.token, nil), http.StatusUnauthorized, "not_authenticated")
			}
		})
	}
	// The forged tokens did not end the real session.
	if resp := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/me", u.AccessToken, nil); resp.Code != http.StatusOK {
		t.Errorf("GET /me with the real token afterwards = %d, want 200", resp.Code)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "uce")
	masterKey := sessionMasterKey(t, h, a.AccessToken)

	resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": a.RefreshToken})
	if resp.Code != http.StatusOK {
		t.Fatalf("POST /refresh = %d %s, want 200", resp.Code, resp.Body)
	}
	var second apiPair
	resp.JSON(t, &second)
	var shape map[string]any
	resp.JSON(t, &shape)
	if len(shape) != 4 || second.TokenType != "bearer" || second.ExpiresIn != 900 ||
		second.RefreshToken == a.RefreshToken || second.AccessToken == "" {
		t.Fatalf("POST /refresh = %s, want a new bearer pair expiring in 900", resp.Body)
	}
	if mustSession(t, h, second.AccessToken) != mustSession(t, h, a.AccessToken) {
		t.Errorf("the refreshed token belongs to another session")
	}
	if got := sessionMasterKey(t, h, second.AccessToken); string(got) != string(masterKey) {
		t.Errorf("the refreshed session lost its master key")
	}
	if me := do(t, h.h, a.ip, "GET", "/api/v1/auth/me", second.AccessToken, nil); me.Code != http.StatusOK {
		t.Fatalf("GET /me with the refreshed token = %d, want 200", me.Code)
	}

	// Presenting the spent token again revokes the session: every token of it fails.
	reuse := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": a.RefreshToken})
	assertError(t, reuse, http.StatusUnauthorized, "refresh_token_reused")
	assertError(t, do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}),
		http.StatusUnauthorized, "invalid_refresh_token")
	for _, access := range []string{a.AccessToken, second.AccessToken} {
		assertError(t, do(t, h.h, a.ip, "GET", "/api/v1/auth/me", access, nil), http.StatusUnauthorized, "not_authenticated")
	}
	if _, err := h.svc.Sessions.Get(context.Background(), mustSession(t, h, a.AccessToken)); err == nil {
		t.Errorf("Sessions.Get() after reuse = nil error, want the session gone")
	}
}

func TestRefreshRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	u := testenv.NewUser(t, h.svc, "e2e")
	tests := []struct{ name, refresh string }{
		{"empty", ""},
		{"garbage", "garbage"},
		{"session id without secret", u.SessionID + "."},
		{"not a session id", "not-a-uuid.secret"},
		{"unknown session", uuid.NewString() + ".secret"},
		{"wrong secret for a live session", u.SessionID + ".wrong-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tt.refresh})
			assertError(t, resp, http.StatusUnauthorized, "invalid_refresh_token")
		})
	}
	// A wrong secret for a live session does not end it.
	if resp := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/me", u.AccessToken, nil); resp.Code != http.StatusOK {
		t.Errorf("GET /me after bad refresh attempts = %d, want 200", resp.Code)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "uce")
	other := newSession(t, h, a.User.ID, "uce", sessionMasterKey(t, h, a.AccessToken)) // a second session of the same user
	resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/logout", a.AccessToken, nil)
	if resp.Code != http.StatusNoContent || resp.Body.Len() != 0 {
		t.Fatalf("POST /logout = %d %q, want 204 with no body", resp.Code, resp.Body)
	}
	assertError(t, do(t, h.h, a.ip, "GET", "/api/v1/auth/me", a.AccessToken, nil), http.StatusUnauthorized, "not_authenticated")
	assertError(t, do(t, h.h, a.ip, "POST", "/api/v1/auth/logout", a.AccessToken, nil), http.StatusUnauthorized, "not_authenticated")
	assertError(t, do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": a.RefreshToken}),
		http.StatusUnauthorized, "invalid_refresh_token")
	// Only that session ended.
	if me := do(t, h.h, a.ip, "GET", "/api/v1/auth/me", other.AccessToken, nil); me.Code != http.StatusOK {
		t.Errorf("GET /me with the user's other session = %d, want 200", me.Code)
	}
}

// TestFeaturesStorageUsed checks that /features reports the user's storage as
// shared/storage counts it (its own tests cover what counts) and the configured quota.
func TestFeaturesStorageUsed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "STORAGE_QUOTA_BYTES", "5000000")
	u := testenv.NewUser(t, h.svc, "e2e")
	other := testenv.NewUser(t, h.svc, "e2e")
	sharedKey := "u/" + u.ID + "/" + uuid.NewString()
	testenv.InsertMedia(t, h.svc,
		testenv.Media{UserID: u.ID, Size: 1000, Status: "ready"},
		testenv.Media{UserID: u.ID, ObjectKey: sharedKey, Size: 234, Status: "ready"},
		testenv.Media{UserID: u.ID, ObjectKey: sharedKey, Size: 234, Status: "ready"}, // deduplicated: counted once
		testenv.Media{UserID: u.ID, Size: 600_000, Status: "pending", Expired: true},
		testenv.Media{UserID: u.ID, Size: 70_000, Status: "ready", Deleted: true},
		testenv.Media{UserID: other.ID, Size: 9_999, Status: "ready"},
	)
	resp := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/features", u.AccessToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /features = %d %s, want 200", resp.Code, resp.Body)
	}
	var got struct {
		Storage struct {
			UsedBytes  int64 `json:"used_bytes"`
			QuotaBytes int64 `json:"quota_bytes"`
		} `json:"storage"`
	}
	resp.JSON(t, &got)
	used, err := storage.Usage(t.Context(), h.svc.DB, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1000 + 234 + 600_000); used != want || got.Storage.UsedBytes != used || got.Storage.QuotaBytes != 5_000_000 {
		t.Errorf("storage = %+v, storage.Usage = %d; want used_bytes %d (own undeleted ready and pending, the shared object once) and quota_bytes 5000000",
			got.Storage, used, want)
	}
}

// TestForgedSessionRecordIsNotAuthenticated: a Redis writer who turns their own session
// record into a victim's (or changes its tier) gets a 401 from /refresh and from every
// authenticated call, never tokens and never a 500.
func TestForgedSessionRecordIsNotAuthenticated(t *testing.T) {
	t.Parallel()
	logs := &testenv.LogBuffer{}
	h := newHarness(t, slog.New(slog.NewJSONHandler(logs, nil)))
	victim := testenv.NewUser(t, h.svc, "e2e")
	ctx := context.Background()
	tests := []struct{ field, value string }{
		{"user_id", victim.ID},
		{"tier", "uce"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			attacker := insertAccount(t, h, "e2e")
			sid := mustSession(t, h, attacker.AccessToken)
			if err := h.svc.Redis.HSet(ctx, "sess:"+sid, tt.field, tt.value).Err(); err != nil {
				t.Fatal(err)
			}
			assertError(t, do(t, h.h, attacker.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": attacker.RefreshToken}),
				http.StatusUnauthorized, "invalid_refresh_token")
			assertError(t, do(t, h.h, attacker.ip, "GET", "/api/v1/auth/me", attacker.AccessToken, nil),
				http.StatusUnauthorized, "not_authenticated")
		})
	}
	if n := strings.Count(logs.String(), "session record failed its integrity check"); n != 2*len(tests) {
		t.Errorf("logged %d integrity warnings, want %d", n, 2*len(tests))
	}
}
