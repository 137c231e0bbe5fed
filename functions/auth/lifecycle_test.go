package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/testenv"
)

// The calls of the account lifecycle, by path.
const (
	pathChangePassword = "/api/v1/auth/change-password"
	pathResetPassword  = "/api/v1/auth/reset-password"
	pathRecoveryCodes  = "/api/v1/auth/recovery-codes"
	pathSessions       = "/api/v1/auth/sessions"
	pathLogoutAll      = "/api/v1/auth/logout-all"
	pathKeyBackup      = "/api/v1/auth/key-backup"
	pathMe             = "/api/v1/auth/me"
)

// sealedCanary is an entry body sealed under a uce account's master key, as the entries
// function stores it: readable afterwards only if the account's master key is unchanged.
type sealedCanary struct {
	userID, entryID string
	sealed          entrybody.Sealed
}

func sealCanary(t *testing.T, userID string, masterKey []byte) sealedCanary {
	t.Helper()
	c := sealedCanary{userID: userID, entryID: uuid.NewString()}
	title := "canary title"
	var err error
	if c.sealed, err = entrybody.Seal(masterKey, userID, c.entryID, 1, &title, "canary content"); err != nil {
		t.Fatal(err)
	}
	return c
}

// assertReadable opens the canary with the master key the session behind accessToken holds.
func (c sealedCanary) assertReadable(t *testing.T, h harness, accessToken string) {
	t.Helper()
	key := sessionMasterKey(t, h, accessToken)
	if _, content, err := entrybody.Open(key, c.userID, c.entryID, 1, c.sealed); err != nil || content != "canary content" {
		t.Errorf("the entry sealed before does not open with the new session's master key: %q, %v", content, err)
	}
}

// assertLoggedOut checks that an access token no longer authenticates.
func assertLoggedOut(t *testing.T, h harness, ip, accessToken, what string) {
	t.Helper()
	if resp := do(t, h.h, ip, "GET", pathMe, accessToken, nil); resp.Code != http.StatusUnauthorized {
		t.Errorf("GET /me with %s = %d, want 401", what, resp.Code)
	}
}

func assertLoggedIn(t *testing.T, h harness, ip, accessToken, what string) {
	t.Helper()
	if resp := do(t, h.h, ip, "GET", pathMe, accessToken, nil); resp.Code != http.StatusOK {
		t.Errorf("GET /me with %s = %d %s, want 200", what, resp.Code, resp.Body)
	}
}

func loginAnswer(t *testing.T, h harness, ip, email, password string) testenv.Response {
	t.Helper()
	return do(t, h.h, ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
}

// masterKeyOf is the uce master key of the account, from a fresh session of its own.
func masterKeyOf(t *testing.T, h harness, a account) []byte {
	t.Helper()
	return sessionMasterKey(t, h, a.AccessToken)
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := insertAccount(t, h, tier)
			var canary sealedCanary
			var masterKey []byte
			if tier == "uce" {
				masterKey = masterKeyOf(t, h, a)
				canary = sealCanary(t, a.User.ID, masterKey)
			}
			other := newSession(t, h, a.User.ID, tier, masterKey)
			var privBefore []byte
			if err := h.svc.DB.QueryRow(ctx, `SELECT coalesce(wrapped_private_key, '') FROM users WHERE id = $1`, a.User.ID).Scan(&privBefore); err != nil {
				t.Fatal(err)
			}

			assertError(t, do(t, h.h, a.ip, "POST", pathChangePassword, a.AccessToken,
				map[string]string{"current_password": "not the password", "new_password": "a brand new password"}),
				http.StatusUnauthorized, "invalid_credentials")
			e := assertError(t, do(t, h.h, a.ip, "POST", pathChangePassword, a.AccessToken,
				map[string]string{"current_password": a.Password, "new_password": "short"}),
				http.StatusUnprocessableEntity, "validation_error")
			if e.Fields["new_password"] == "" {
				t.Errorf("422 fields = %v, want new_password", e.Fields)
			}
			assertError(t, do(t, h.h, a.ip, "POST", pathChangePassword, "",
				map[string]string{"current_password": a.Password, "new_password": "a brand new password"}),
				http.StatusUnauthorized, "not_authenticated")

			newPassword := "a brand new password " + uuid.NewString()[:8]
			resp := do(t, h.h, a.ip, "POST", pathChangePassword, a.AccessToken,
				map[string]string{"current_password": a.Password, "new_password": newPassword},
				"User-Agent", "diary-test/1.0")
			if resp.Code != http.StatusOK {
				t.Fatalf("POST /change-password = %d %s, want 200", resp.Code, resp.Body)
			}
			var pair apiPair
			resp.JSON(t, &pair)
			if pair.AccessToken == "" || pair.RefreshToken == "" || pair.TokenType != "bearer" || pair.ExpiresIn != 900 {
				t.Fatalf("POST /change-password = %s, want a token pair", resp.Body)
			}

			assertLoggedIn(t, h, a.ip, pair.AccessToken, "the new pair")
			assertLoggedOut(t, h, a.ip, a.AccessToken, "the old access token of the same session")
			assertLoggedOut(t, h, a.ip, other.AccessToken, "another session")
			if r := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}); r.Code != http.StatusUnauthorized {
				t.Errorf("refresh another session = %d, want 401", r.Code)
			}
			assertError(t, loginAnswer(t, h, a.ip, a.Email, a.Password), http.StatusUnauthorized, "invalid_credentials")
			r := loginAnswer(t, h, a.ip, a.Email, newPassword)
			if r.Code != http.StatusOK {
				t.Fatalf("login with the new password = %d %s, want 200", r.Code, r.Body)
			}
			var s apiSession
			r.JSON(t, &s)
			var privAfter []byte
			if err := h.svc.DB.QueryRow(ctx, `SELECT coalesce(wrapped_private_key, '') FROM users WHERE id = $1`, a.User.ID).Scan(&privAfter); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(privBefore, privAfter) {
				t.Errorf("the wrapped private key changed: the master key was not kept")
			}
			if tier == "uce" {
				canary.assertReadable(t, h, s.AccessToken)
				canary.assertReadable(t, h, pair.AccessToken)
				// The recovery codes still open the same master key.
				a.Password = newPassword
				reset := resetWith(t, h, a, a.RecoveryCodes[0], "yet another password 123")
				if reset.Code != http.StatusOK {
					t.Fatalf("reset after the change = %d %s", reset.Code, reset.Body)
				}
			}
		})
	}
}

func resetWith(t *testing.T, h harness, a account, code, newPassword string) testenv.Response {
	t.Helper()
	return do(t, h.h, a.ip, "POST", pathResetPassword, "",
		map[string]string{"email": a.Email, "recovery_code": code, "new_password": newPassword})
}

type apiReset struct {
	apiSession
	RemainingCodes int `json:"remaining_codes"`
}

func TestResetPassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := insertAccount(t, h, tier)
			var canary sealedCanary
			var masterKey []byte
			if tier == "uce" {
				masterKey = masterKeyOf(t, h, a)
				canary = sealCanary(t, a.User.ID, masterKey)
			}
			other := newSession(t, h, a.User.ID, tier, masterKey)

			// An unknown email and a wrong code get the very same answer.
			unknown := assertError(t, do(t, h.h, a.ip, "POST", pathResetPassword, "",
				map[string]string{"email": "nobody-" + a.Email, "recovery_code": a.RecoveryCodes[0], "new_password": "a new password 1"}),
				http.StatusUnauthorized, "invalid_recovery_code")
			wrong := assertError(t, resetWith(t, h, a, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF", "a new password 1"),
				http.StatusUnauthorized, "invalid_recovery_code")
			if unknown.Code != wrong.Code || unknown.Detail != wrong.Detail {
				t.Errorf("unknown email answered %+v, wrong code %+v: want the same", unknown, wrong)
			}
			assertError(t, resetWith(t, h, a, a.RecoveryCodes[0], "short"), http.StatusUnprocessableEntity, "validation_error")
			assertLoggedIn(t, h, a.ip, a.AccessToken, "the session, after failed resets")

			newPassword := "the reset password " + uuid.NewString()[:8]
			// The code as the user may type it: lower case, no dashes.
			typed := strings.ToLower(strings.ReplaceAll(a.RecoveryCodes[1], "-", ""))
			resp := resetWith(t, h, a, typed, newPassword)
			if resp.Code != http.StatusOK {
				t.Fatalf("POST /reset-password = %d %s, want 200", resp.Code, resp.Body)
			}
			var got apiReset
			resp.JSON(t, &got)
			if got.RemainingCodes != recoveryCodeCount-1 || got.User.ID != a.User.ID || got.AccessToken == "" {
				t.Errorf("POST /reset-password = %s, want the user, a pair and %d codes left", resp.Body, recoveryCodeCount-1)
			}
			assertLoggedIn(t, h, a.ip, got.AccessToken, "the reset's session")
			assertLoggedOut(t, h, a.ip, a.AccessToken, "an earlier session")
			assertLoggedOut(t, h, a.ip, other.AccessToken, "another earlier session")
			// The code is spent, for a reset and for verify-recovery-code alike.
			assertError(t, resetWith(t, h, a, a.RecoveryCodes[1], "another password 1"), http.StatusUnauthorized, "invalid_recovery_code")
			assertError(t, do(t, h.h, a.ip, "POST", "/api/v1/auth/verify-recovery-code", "",
				map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[1]}), http.StatusUnauthorized, "invalid_recovery_code")
			assertError(t, loginAnswer(t, h, a.ip, a.Email, a.Password), http.StatusUnauthorized, "invalid_credentials")
			r := loginAnswer(t, h, a.ip, a.Email, newPassword)
			if r.Code != http.StatusOK {
				t.Fatalf("login with the reset password = %d %s", r.Code, r.Body)
			}
			var s apiSession
			r.JSON(t, &s)
			if tier == "uce" {
				canary.assertReadable(t, h, got.AccessToken)
				canary.assertReadable(t, h, s.AccessToken)
			}
		})
	}
}

// Reset attempts are held back like logins: the login protection's per-address limit.
func TestResetPasswordIsRateLimited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, "LOGIN_RATE_IP_LIMIT", "2")
	a := insertAccount(t, h, "e2e")
	ip := randomIP(t)
	for i := range 2 {
		r := do(t, h.h, ip, "POST", pathResetPassword, "",
			map[string]string{"email": a.Email, "recovery_code": "wrong-" + uuid.NewString(), "new_password": "a new password 1"})
		assertError(t, r, http.StatusUnauthorized, "invalid_recovery_code")
		_ = i
	}
	r := do(t, h.h, ip, "POST", pathResetPassword, "",
		map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[0], "new_password": "a new password 1"})
	assertError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header().Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// The limited attempt spent nothing: the code still works from another address.
	a.ip = randomIP(t)
	if resp := resetWith(t, h, a, a.RecoveryCodes[0], "a new password 1"); resp.Code != http.StatusOK {
		t.Errorf("reset from another address = %d %s, want 200", resp.Code, resp.Body)
	}
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := insertAccount(t, h, tier)
			var canary sealedCanary
			if tier == "uce" {
				canary = sealCanary(t, a.User.ID, masterKeyOf(t, h, a))
			}
			assertError(t, do(t, h.h, a.ip, "POST", pathRecoveryCodes, a.AccessToken, map[string]string{"password": "wrong password"}),
				http.StatusUnauthorized, "invalid_credentials")
			resp := do(t, h.h, a.ip, "POST", pathRecoveryCodes, a.AccessToken, map[string]string{"password": a.Password})
			if resp.Code != http.StatusCreated {
				t.Fatalf("POST /recovery-codes = %d %s, want 201", resp.Code, resp.Body)
			}
			var got struct {
				RecoveryCodes []string `json:"recovery_codes"`
			}
			resp.JSON(t, &got)
			if len(got.RecoveryCodes) != recoveryCodeCount {
				t.Fatalf("POST /recovery-codes = %s, want %d codes", resp.Body, recoveryCodeCount)
			}
			for _, c := range got.RecoveryCodes {
				for _, old := range a.RecoveryCodes {
					if c == old {
						t.Fatalf("a new code equals an old one")
					}
				}
			}
			var rows, wraps int
			if err := h.svc.DB.QueryRow(ctx, `SELECT count(*), count(wrapped_master_key) FROM recovery_codes WHERE user_id = $1`,
				a.User.ID).Scan(&rows, &wraps); err != nil {
				t.Fatal(err)
			}
			wantWraps := 0
			if tier == "uce" {
				wantWraps = recoveryCodeCount
			}
			if rows != recoveryCodeCount || wraps != wantWraps {
				t.Errorf("recovery_codes rows = %d (%d wraps), want %d (%d): the old ones erased", rows, wraps, recoveryCodeCount, wantWraps)
			}
			// Every old code is void; a new one resets the password and, for uce, opens the
			// same master key.
			assertError(t, resetWith(t, h, a, a.RecoveryCodes[2], "a new password 1"), http.StatusUnauthorized, "invalid_recovery_code")
			assertError(t, do(t, h.h, a.ip, "POST", "/api/v1/auth/verify-recovery-code", "",
				map[string]string{"email": a.Email, "recovery_code": a.RecoveryCodes[3]}), http.StatusUnauthorized, "invalid_recovery_code")
			r := resetWith(t, h, a, got.RecoveryCodes[0], "a new password 1")
			if r.Code != http.StatusOK {
				t.Fatalf("reset with a new code = %d %s", r.Code, r.Body)
			}
			if tier == "uce" {
				var s apiReset
				r.JSON(t, &s)
				canary.assertReadable(t, h, s.AccessToken)
			}
		})
	}
}

type apiSessionItem struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	Current    bool   `json:"current"`
	UserAgent  string `json:"user_agent"`
}

func listSessions(t *testing.T, h harness, ip, accessToken string) []apiSessionItem {
	t.Helper()
	resp := do(t, h.h, ip, "GET", pathSessions, accessToken, nil)
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /sessions = %d %s, want 200", resp.Code, resp.Body)
	}
	var got struct {
		Items []apiSessionItem `json:"items"`
	}
	resp.JSON(t, &got)
	return got.Items
}

func TestSessionsListRevokeAndLogoutAll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "e2e")
	// A login from a browser: its user agent is in the list.
	r := do(t, h.h, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password},
		"User-Agent", "Mozilla/5.0 (diary test)")
	if r.Code != http.StatusOK {
		t.Fatalf("login = %d", r.Code)
	}
	var browser apiSession
	r.JSON(t, &browser)
	third := newSession(t, h, a.User.ID, "e2e", nil)

	items := listSessions(t, h, a.ip, browser.AccessToken)
	if len(items) != 3 {
		t.Fatalf("GET /sessions = %d items, want 3: %+v", len(items), items)
	}
	var current []apiSessionItem
	for _, it := range items {
		if it.ID == "" || it.CreatedAt == "" || it.LastUsedAt == "" || it.ExpiresAt == "" {
			t.Errorf("session item %+v lacks a field", it)
		}
		if it.Current {
			current = append(current, it)
		}
	}
	if len(current) != 1 || current[0].UserAgent != "Mozilla/5.0 (diary test)" {
		t.Errorf("current sessions = %+v, want exactly the browser's", current)
	}

	// Another user's session is a 404, and stays alive.
	stranger := testenv.NewUser(t, h.svc, "e2e")
	assertError(t, do(t, h.h, a.ip, "DELETE", pathSessions+"/"+stranger.SessionID, browser.AccessToken, nil), http.StatusNotFound, "not_found")
	assertError(t, do(t, h.h, a.ip, "DELETE", pathSessions+"/not-a-uuid", browser.AccessToken, nil), http.StatusNotFound, "not_found")
	assertLoggedIn(t, h, a.ip, stranger.AccessToken, "the stranger's session")

	// Revoke the third session: its tokens stop at once, the others go on.
	var thirdID string
	for _, it := range items {
		if !it.Current && it.UserAgent == "" {
			if claims, err := h.svc.Verifier.Verify(third.AccessToken); err == nil && claims.SessionID == it.ID {
				thirdID = it.ID
			}
		}
	}
	if thirdID == "" {
		t.Fatalf("the third session is not in the list %+v", items)
	}
	if resp := do(t, h.h, a.ip, "DELETE", pathSessions+"/"+thirdID, browser.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE /sessions/{id} = %d %s, want 204", resp.Code, resp.Body)
	}
	assertLoggedOut(t, h, a.ip, third.AccessToken, "the revoked session")
	if r := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken}); r.Code != http.StatusUnauthorized {
		t.Errorf("refresh the revoked session = %d, want 401", r.Code)
	}
	assertLoggedIn(t, h, a.ip, browser.AccessToken, "the browser session")
	assertLoggedIn(t, h, a.ip, a.AccessToken, "the first session")
	if items := listSessions(t, h, a.ip, a.AccessToken); len(items) != 2 {
		t.Errorf("GET /sessions after a revoke = %d items, want 2", len(items))
	}

	if resp := do(t, h.h, a.ip, "POST", pathLogoutAll, a.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("POST /logout-all = %d %s, want 204", resp.Code, resp.Body)
	}
	assertLoggedOut(t, h, a.ip, a.AccessToken, "the caller's session after logout-all")
	assertLoggedOut(t, h, a.ip, browser.AccessToken, "the browser session after logout-all")
	if r := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": browser.RefreshToken}); r.Code != http.StatusUnauthorized {
		t.Errorf("refresh after logout-all = %d, want 401", r.Code)
	}
	assertLoggedIn(t, h, a.ip, stranger.AccessToken, "the stranger's session after logout-all")
}

func TestKeyBackup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := insertAccount(t, h, "e2e")
	assertError(t, do(t, h.h, a.ip, "GET", pathKeyBackup, a.AccessToken, nil), http.StatusNotFound, "not_found")

	blob := make([]byte, maxKeyBackupBytes)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	for _, b := range [][]byte{[]byte("first backup"), blob} {
		body := map[string]string{"ciphertext": base64.StdEncoding.EncodeToString(b)}
		if resp := do(t, h.h, a.ip, "PUT", pathKeyBackup, a.AccessToken, body); resp.Code != http.StatusNoContent {
			t.Fatalf("PUT /key-backup (%d bytes) = %d %s, want 204", len(b), resp.Code, resp.Body)
		}
		resp := do(t, h.h, a.ip, "GET", pathKeyBackup, a.AccessToken, nil)
		var got struct {
			Ciphertext string `json:"ciphertext"`
			UpdatedAt  string `json:"updated_at"`
		}
		resp.JSON(t, &got)
		if resp.Code != http.StatusOK || got.Ciphertext != body["ciphertext"] || got.UpdatedAt == "" {
			t.Errorf("GET /key-backup = %d (%d chars, updated_at %q), want the %d bytes just stored", resp.Code, len(got.Ciphertext), got.UpdatedAt, len(b))
		}
	}
	tooLarge := base64.StdEncoding.EncodeToString(append(blob, 1))
	assertError(t, do(t, h.h, a.ip, "PUT", pathKeyBackup, a.AccessToken, map[string]string{"ciphertext": tooLarge}),
		http.StatusRequestEntityTooLarge, "too_large")
	for _, bad := range []string{"", "not base64!"} {
		assertError(t, do(t, h.h, a.ip, "PUT", pathKeyBackup, a.AccessToken, map[string]string{"ciphertext": bad}),
			http.StatusUnprocessableEntity, "validation_error")
	}
	assertError(t, do(t, h.h, a.ip, "PUT", pathKeyBackup, a.AccessToken, map[string]any{"ciphertext": "AAAA", "updated_at": "x"}),
		http.StatusBadRequest, "unknown_field")
	// Another user sees only their own (none).
	other := testenv.NewUser(t, h.svc, "e2e")
	assertError(t, do(t, h.h, a.ip, "GET", pathKeyBackup, other.AccessToken, nil), http.StatusNotFound, "not_found")

	// uce: the server wraps the keys itself; a backup is refused both ways.
	u := testenv.NewUser(t, h.svc, "uce")
	assertError(t, do(t, h.h, a.ip, "PUT", pathKeyBackup, u.AccessToken, map[string]string{"ciphertext": "AAAA"}), http.StatusForbidden, "feature_unavailable_for_tier")
	assertError(t, do(t, h.h, a.ip, "GET", pathKeyBackup, u.AccessToken, nil), http.StatusForbidden, "feature_unavailable_for_tier")
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := insertAccount(t, h, tier)
			var masterKey []byte
			if tier == "uce" {
				masterKey = masterKeyOf(t, h, a)
			}
			other := newSession(t, h, a.User.ID, tier, masterKey)
			if tier == "e2e" {
				if r := do(t, h.h, a.ip, "PUT", pathKeyBackup, a.AccessToken, map[string]string{"ciphertext": "c2VjcmV0"}); r.Code != http.StatusNoContent {
					t.Fatalf("PUT /key-backup = %d", r.Code)
				}
			}

			assertError(t, do(t, h.h, a.ip, "DELETE", pathMe, a.AccessToken, map[string]string{"password": "wrong password"}),
				http.StatusUnauthorized, "invalid_credentials")
			assertError(t, do(t, h.h, a.ip, "DELETE", pathMe, a.AccessToken, map[string]string{}),
				http.StatusUnprocessableEntity, "validation_error")
			assertLoggedIn(t, h, a.ip, a.AccessToken, "the session after refused deletions")

			resp := do(t, h.h, a.ip, "DELETE", pathMe, a.AccessToken, map[string]string{"password": a.Password})
			if resp.Code != http.StatusAccepted {
				t.Fatalf("DELETE /me = %d %s, want 202", resp.Code, resp.Body)
			}
			var got struct {
				JobID string `json:"job_id"`
			}
			resp.JSON(t, &got)
			if _, err := uuid.Parse(got.JobID); err != nil {
				t.Fatalf("DELETE /me = %s, want a job id", resp.Body)
			}

			// At once: no login, no session, no key material.
			assertError(t, loginAnswer(t, h, a.ip, a.Email, a.Password), http.StatusUnauthorized, "invalid_credentials")
			assertLoggedOut(t, h, a.ip, a.AccessToken, "the deleting session")
			assertLoggedOut(t, h, a.ip, other.AccessToken, "another session")
			if r := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}); r.Code != http.StatusUnauthorized {
				t.Errorf("refresh after the deletion = %d, want 401", r.Code)
			}
			assertError(t, resetWith(t, h, a, a.RecoveryCodes[0], "a new password 1"), http.StatusUnauthorized, "invalid_recovery_code")
			assertKeyMaterialGone(t, h, a.User.ID)
			var kind, status string
			if err := h.svc.DB.QueryRow(ctx, `SELECT kind, status FROM jobs WHERE id = $1 AND user_id = $2`, got.JobID, a.User.ID).Scan(&kind, &status); err != nil {
				t.Fatalf("the purge job: %v", err)
			}
			if kind != purgeJobKind || status != "queued" {
				t.Errorf("job = %s %s, want %s queued", kind, status, purgeJobKind)
			}
			// The purge's event was written in the deletion's transaction, once: the refused
			// deletions wrote none.
			events := testenv.Outbox(t, h.svc.DB, a.User.ID)
			wantData := `{"job_id": "` + got.JobID + `", "user_id": "` + a.User.ID + `"}`
			if len(events) != 1 || events[0].Type != eventing.TypeAccountDeleted || events[0].Source != eventing.SourceAuth ||
				events[0].Subject != a.User.ID || string(events[0].Data) != wantData {
				t.Errorf("outbox = %+v, want one account.deleted %s", events, wantData)
			}

			// The email is free again at once.
			body := map[string]any{"email": a.Email, "password": "a new account's password", "encryption_tier": "e2e", "public_key": newPublicKey(t)}
			if r := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/signup", "", body); r.Code != http.StatusCreated {
				t.Errorf("signup with the deleted account's email = %d %s, want 201", r.Code, r.Body)
			}
		})
	}
}

// assertKeyMaterialGone checks that nothing that could open the user's data is left: no
// password hash, no wrapped key, no recovery code, no key backup, no session in Redis.
func assertKeyMaterialGone(t testing.TB, h harness, userID string) {
	t.Helper()
	ctx := context.Background()
	var deleted bool
	var hash string
	var salt, wrapped, priv []byte
	err := h.svc.DB.QueryRow(ctx, `
		SELECT deleted_at IS NOT NULL, password_hash, kdf_salt, wrapped_master_key, wrapped_private_key
		FROM users WHERE id = $1`, userID).Scan(&deleted, &hash, &salt, &wrapped, &priv)
	if err != nil {
		t.Fatalf("the deleted user's row: %v", err)
	}
	if !deleted || hash != "" || salt != nil || wrapped != nil || priv != nil {
		t.Errorf("users row: deleted %v, hash %d bytes, salt %v, wrapped master %v, wrapped private %v: want marked and erased",
			deleted, len(hash), salt != nil, wrapped != nil, priv != nil)
	}
	var codes, backups int
	if err := h.svc.DB.QueryRow(ctx, `SELECT (SELECT count(*) FROM recovery_codes WHERE user_id = $1), (SELECT count(*) FROM key_backups WHERE user_id = $1)`,
		userID).Scan(&codes, &backups); err != nil {
		t.Fatal(err)
	}
	if codes != 0 || backups != 0 {
		t.Errorf("recovery codes %d, key backups %d, want none", codes, backups)
	}
	if list, err := h.svc.Sessions.List(ctx, userID); err != nil || len(list) != 0 {
		t.Errorf("sessions of the deleted user = %d, %v, want none", len(list), err)
	}
}
