package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/testenv"
)

// encodings are the forms a secret could leak in: raw bytes, hex and every base64.
func encodings(secret []byte) map[string][]byte {
	return map[string][]byte{
		"raw":            secret,
		"hex":            []byte(hex.EncodeToString(secret)),
		"HEX":            []byte(strings.ToUpper(hex.EncodeToString(secret))),
		"base64":         []byte(base64.StdEncoding.EncodeToString(secret)),
		"base64 raw":     []byte(base64.RawStdEncoding.EncodeToString(secret)),
		"base64 url":     []byte(base64.URLEncoding.EncodeToString(secret)),
		"base64 raw url": []byte(base64.RawURLEncoding.EncodeToString(secret)),
	}
}

// TestMasterKeyNeverStoredInClear reads what PostgreSQL and Redis hold after a uce
// signup, login and refresh, and looks for the master key and the X25519 private key in
// every form.
func TestMasterKeyNeverStoredInClear(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	a := sharedAccount(t, h, "uce")
	s := login(t, h, a)
	resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken})
	if resp.Code != http.StatusOK {
		t.Fatalf("POST /refresh = %d, want 200", resp.Code)
	}
	masterKey := sessionMasterKey(t, h, a.AccessToken)
	var wrappedPriv []byte
	if err := h.svc.DB.QueryRow(ctx, `SELECT wrapped_private_key FROM users WHERE id = $1`, a.User.ID).Scan(&wrappedPriv); err != nil {
		t.Fatal(err)
	}
	privateKey, err := crypto.UnwrapPrivateKey(masterKey, a.User.ID, wrappedPriv)
	if err != nil {
		t.Fatalf("Open(private key) = %v", err)
	}
	secrets := map[string][]byte{"master key": masterKey, "private key": privateKey}

	// PostgreSQL: every column of the user's rows, as stored (bytea) and as text.
	var blobs [][]byte
	for _, q := range []string{
		`SELECT row_to_json(u)::text::bytea, password_hash::bytea, public_key, kdf_salt, wrapped_master_key, wrapped_private_key FROM users u WHERE id = $1`,
		`SELECT row_to_json(r)::text::bytea, code_hash, coalesce(salt, ''), coalesce(wrapped_master_key, ''), ''::bytea, ''::bytea FROM recovery_codes r WHERE user_id = $1`,
	} {
		rows, err := h.svc.DB.Query(ctx, q, a.User.ID)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n := 0
		for rows.Next() {
			cols := make([][]byte, 6)
			if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5]); err != nil {
				t.Fatal(err)
			}
			blobs = append(blobs, cols...)
			n++
		}
		if err := rows.Err(); err != nil || n == 0 {
			t.Fatalf("%s: %d rows, %v", q, n, err)
		}
	}
	// Redis: every key and everything it holds, and its DUMP.
	blobs = append(blobs, redisBlobs(t, h)...)
	for name, secret := range secrets {
		for form, needle := range encodings(secret) {
			for _, blob := range blobs {
				if bytes.Contains(blob, needle) {
					t.Errorf("the %s appears (%s) in stored data", name, form)
					break
				}
			}
		}
	}
	// The session does hold the key, sealed: the check above would have seen it otherwise.
	sess, err := h.svc.Sessions.Get(ctx, mustSession(t, h, a.AccessToken))
	if err != nil {
		t.Fatalf("Sessions.Get() = %v", err)
	}
	if _, err := h.svc.Sessions.MasterKey(sess); err != nil {
		t.Errorf("Sessions.MasterKey() = %v, want the sealed key", err)
	}
}

// TestLogsHoldNoSecrets runs every endpoint, failures included, with the logs captured,
// and looks for passwords, tokens, recovery codes and emails in them. It runs first (it
// is not parallel), so the shared accounts are signed up while it captures.
func TestLogsHoldNoSecrets(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, slog.Default(), "LOGIN_RATE_ACCOUNT_LIMIT", "1")
	var secrets []string
	call := func(ip, method, path, access string, body any) testenv.Response {
		t.Helper()
		return do(t, h.h, ip, method, path, access, body)
	}

	a := sharedAccount(t, h, "uce")
	e := sharedAccount(t, h, "e2e")
	locked := insertAccount(t, h, "e2e")
	for _, acc := range []account{a, e, locked} {
		secrets = append(secrets, acc.Password, acc.Email, acc.AccessToken, acc.RefreshToken)
		secrets = append(secrets, acc.RecoveryCodes...)
		for _, c := range acc.RecoveryCodes {
			secrets = append(secrets, crypto.NormalizeRecoveryCode(c))
		}
	}
	weak, guess := "sh0rt!", "wrong-password-guess"
	secrets = append(secrets, weak, guess)
	call(a.ip, "POST", "/api/v1/auth/signup", "", map[string]any{"email": randomEmail(), "password": weak, "encryption_tier": "uce"})
	call(a.ip, "POST", "/api/v1/auth/signup", "", map[string]any{"email": a.Email, "password": a.Password, "encryption_tier": "uce"})
	s := login(t, h, a)
	secrets = append(secrets, s.AccessToken, s.RefreshToken)
	for range 2 { // a failure, then the account limit
		call(randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": locked.Email, "password": guess})
	}
	call(randomIP(t), "POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody-" + locked.Email, "password": guess})
	call(a.ip, "GET", "/api/v1/auth/me", s.AccessToken, nil)
	call(a.ip, "GET", "/api/v1/auth/features", s.AccessToken, nil)
	call(a.ip, "GET", "/api/v1/auth/me", s.AccessToken+"x", nil)
	r := call(a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken})
	var next apiPair
	r.JSON(t, &next)
	secrets = append(secrets, next.AccessToken, next.RefreshToken)
	call(a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}) // reuse
	call(a.ip, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage-" + a.RefreshToken})
	call(a.ip, "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": locked.Email, "recovery_code": locked.RecoveryCodes[0]})
	call(a.ip, "POST", "/api/v1/auth/verify-recovery-code", "", map[string]string{"email": locked.Email, "recovery_code": locked.RecoveryCodes[0]})
	call(a.ip, "POST", "/api/v1/auth/login", "", `{"email": "`+a.Email+`", "password": "`+a.Password+`", "extra": 1}`)
	call(a.ip, "POST", "/api/v1/auth/logout", locked.AccessToken, nil)
	call(a.ip, "POST", "/api/v1/auth/logout", locked.AccessToken, nil)

	out := logs.String()
	for _, want := range []string{`"route":"POST /api/v1/auth/signup"`, `"route":"POST /api/v1/auth/login"`, `"status":429`, `"status":401`} {
		if !strings.Contains(out, want) {
			t.Fatalf("captured logs lack %s; is the logger wired? logs:\n%s", want, out)
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(out, s) {
			t.Errorf("the logs contain a secret of %d characters (%.6s...)", len(s), s)
		}
		// A token's signature or a refresh token's secret alone is as bad as the whole.
		if i := strings.LastIndex(s, ".") + 1; i > 0 && len(s)-i >= 20 && strings.Contains(out, s[i:]) {
			t.Errorf("the logs contain the tail of a token (%.6s...)", s[i:])
		}
	}
}

// redisBlobs returns every key in Redis, everything each holds and its DUMP.
func redisBlobs(t *testing.T, h harness) [][]byte {
	t.Helper()
	ctx := context.Background()
	var blobs [][]byte
	var keys int
	iter := h.svc.Redis.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		keys++
		blobs = append(blobs, []byte(key))
		if dump, err := h.svc.Redis.Dump(ctx, key).Result(); err == nil {
			blobs = append(blobs, []byte(dump))
		}
		switch typ, _ := h.svc.Redis.Type(ctx, key).Result(); typ {
		case "string":
			v, _ := h.svc.Redis.Get(ctx, key).Bytes()
			blobs = append(blobs, v)
		case "hash":
			m, _ := h.svc.Redis.HGetAll(ctx, key).Result()
			for f, v := range m {
				blobs = append(blobs, []byte(f), []byte(v))
			}
		case "set":
			m, _ := h.svc.Redis.SMembers(ctx, key).Result()
			for _, v := range m {
				blobs = append(blobs, []byte(v))
			}
		case "list":
			m, _ := h.svc.Redis.LRange(ctx, key, 0, -1).Result()
			for _, v := range m {
				blobs = append(blobs, []byte(v))
			}
		case "zset":
			m, _ := h.svc.Redis.ZRange(ctx, key, 0, -1).Result()
			for _, v := range m {
				blobs = append(blobs, []byte(v))
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	if keys == 0 {
		t.Fatalf("SCAN found no Redis keys; the session should be there")
	}
	return blobs
}
