package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/xmojo/diary/shared/crypto"
)

func newPublicKey(t testing.TB) string {
	t.Helper()
	pub, _, err := crypto.GenerateX25519()
	if err != nil {
		t.Fatalf("GenerateX25519() = %v", err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

// TestSignup checks the 201 answers of the shared accounts' signups (one per tier, made
// through the API with a mixed-case email) and what they stored.
func TestSignup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tier := range []string{"e2e", "uce"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			a := sharedAccount(t, h, tier)
			email, password, sentKey, got := a.Email, a.Password, a.sentKey, a.apiSignup
			u := got.User
			if u.Email != email || u.EncryptionTier != tier || u.ID == "" {
				t.Errorf("user = %+v, want email %q and tier %q", u, email, tier)
			}
			if created, err := time.Parse(time.RFC3339Nano, u.CreatedAt); err != nil || created.Before(a.before) || !strings.HasSuffix(u.CreatedAt, "Z") {
				t.Errorf("created_at = %q, want a recent RFC 3339 UTC time", u.CreatedAt)
			}
			pub, err := base64.StdEncoding.DecodeString(u.PublicKey)
			if err != nil || crypto.ValidateX25519PublicKey(pub) != nil {
				t.Errorf("public_key = %q, want the base64 of a valid X25519 key", u.PublicKey)
			}
			if tier == "e2e" && u.PublicKey != sentKey {
				t.Errorf("public_key = %q, want the one sent, %q", u.PublicKey, sentKey)
			}
			if got.TokenType != "bearer" || got.ExpiresIn != 900 || got.AccessToken == "" || got.RefreshToken == "" {
				t.Errorf("tokens = %+v, want bearer tokens expiring in 900", got.apiPair)
			}
			if len(got.RecoveryCodes) != 10 || len(slices.Compact(slices.Sorted(slices.Values(got.RecoveryCodes)))) != 10 {
				t.Errorf("recovery_codes = %q, want 10 distinct codes", got.RecoveryCodes)
			}

			// The access token works at once.
			me := do(t, h.h, randomIP(t), "GET", "/api/v1/auth/me", got.AccessToken, nil)
			if me.Code != http.StatusOK {
				t.Fatalf("GET /me = %d %s, want 200", me.Code, me.Body)
			}
			var meUser apiUser
			me.JSON(t, &meUser)
			if meUser != u {
				t.Errorf("GET /me = %+v, want the signed-up user %+v", meUser, u)
			}

			// What is stored: a bcrypt hash, and only hashes of the recovery codes.
			ctx := context.Background()
			var hash string
			var salt, wrappedMaster, wrappedPriv []byte
			err = h.svc.DB.QueryRow(ctx, `SELECT password_hash, kdf_salt, wrapped_master_key, wrapped_private_key FROM users WHERE id = $1`,
				u.ID).Scan(&hash, &salt, &wrappedMaster, &wrappedPriv)
			if err != nil {
				t.Fatalf("select user: %v", err)
			}
			// Login tests prove the hash checks; here: bcrypt at cost 12, not the password.
			if !strings.HasPrefix(hash, "$2a$12$") || len(hash) != 60 || strings.Contains(hash, password) {
				t.Errorf("password_hash = %q, want a cost-12 bcrypt hash", hash)
			}
			if wantUCE := tier == "uce"; (salt != nil && wrappedMaster != nil && wrappedPriv != nil) != wantUCE {
				t.Errorf("stored uce keys present = %v, want %v", salt != nil, wantUCE)
			}
			rows, err := h.svc.DB.Query(ctx, `SELECT code_hash, salt, wrapped_master_key, used_at IS NULL FROM recovery_codes WHERE user_id = $1`, u.ID)
			if err != nil {
				t.Fatalf("select recovery codes: %v", err)
			}
			var stored [][]byte
			for rows.Next() {
				var codeHash, codeSalt, codeWrapped []byte
				var unused bool
				if err := rows.Scan(&codeHash, &codeSalt, &codeWrapped, &unused); err != nil {
					t.Fatal(err)
				}
				stored = append(stored, codeHash)
				if !unused || (codeSalt != nil) != (tier == "uce") || (codeWrapped != nil) != (tier == "uce") {
					t.Errorf("recovery code row: unused=%v salt=%v wrapped=%v, want unused and wrap only for uce", unused, codeSalt != nil, codeWrapped != nil)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(stored) != 10 {
				t.Fatalf("stored %d recovery codes, want 10", len(stored))
			}
			for _, code := range got.RecoveryCodes {
				if !slices.ContainsFunc(stored, func(h []byte) bool { return bytes.Equal(h, crypto.HashRecoveryCode(code)) }) {
					t.Errorf("recovery code %d: its hash is not stored", slices.Index(got.RecoveryCodes, code))
				}
			}
		})
	}
}

// TestSignupUCEKeys opens every wrap signup stored for a uce user, the way a later login
// or recovery would, and checks each yields the master key the session holds.
func TestSignupUCEKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := sharedAccount(t, h, "uce")
	masterKey := sessionMasterKey(t, h, a.AccessToken)
	if len(masterKey) != crypto.KeySize {
		t.Fatalf("session master key is %d bytes, want %d", len(masterKey), crypto.KeySize)
	}
	ctx := context.Background()
	var salt, wrappedMaster, wrappedPriv, pub []byte
	err := h.svc.DB.QueryRow(ctx, `SELECT kdf_salt, wrapped_master_key, wrapped_private_key, public_key FROM users WHERE id = $1`,
		a.User.ID).Scan(&salt, &wrappedMaster, &wrappedPriv, &pub)
	if err != nil {
		t.Fatalf("select user: %v", err)
	}

	kek, err := crypto.NewKDF(1).Derive(ctx, []byte(a.Password), salt)
	if err != nil {
		t.Fatalf("Derive() = %v", err)
	}
	ad := crypto.AD{Owner: a.User.ID, Record: a.User.ID, Purpose: "master-key/password"}
	if got, err := crypto.Open(kek, wrappedMaster, ad); err != nil || !bytes.Equal(got, masterKey) {
		t.Errorf("Open(password wrap) = %v, want the session's master key", err)
	}
	if _, err := crypto.Open(kek, wrappedMaster, crypto.AD{Owner: "someone-else", Record: a.User.ID, Purpose: ad.Purpose}); err == nil {
		t.Errorf("Open(password wrap) with another owner succeeded, want the AD to bind the user")
	}

	priv, err := crypto.Open(masterKey, wrappedPriv, crypto.AD{Owner: a.User.ID, Record: a.User.ID, Purpose: "x25519-private-key/master"})
	if err != nil {
		t.Fatalf("Open(private key wrap) = %v", err)
	}
	derivedPub, err := curve25519.X25519(priv, curve25519.Basepoint)
	if err != nil || !bytes.Equal(derivedPub, pub) {
		t.Errorf("the wrapped private key does not match public_key")
	}

	rows, err := h.svc.DB.Query(ctx, `SELECT id::text, code_hash, salt, wrapped_master_key FROM recovery_codes WHERE user_id = $1`, a.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	type codeRow struct {
		id                  string
		hash, salt, wrapped []byte
	}
	var stored []codeRow
	for rows.Next() {
		var r codeRow
		if err := rows.Scan(&r.id, &r.hash, &r.salt, &r.wrapped); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, code := range a.RecoveryCodes {
		idx := slices.IndexFunc(stored, func(r codeRow) bool { return bytes.Equal(r.hash, crypto.HashRecoveryCode(code)) })
		if idx < 0 {
			t.Errorf("recovery code %d is not stored", i)
			continue
		}
		r := stored[idx]
		key, err := crypto.RecoveryKey(code, r.salt)
		if err != nil {
			t.Fatalf("RecoveryKey() = %v", err)
		}
		got, err := crypto.Open(key, r.wrapped, crypto.AD{Owner: a.User.ID, Record: r.id, Purpose: "master-key/recovery"})
		if err != nil || !bytes.Equal(got, masterKey) {
			t.Errorf("Open(recovery wrap %d) = %v, want the session's master key", i, err)
		}
	}
}

func TestSignupRejects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	lowOrder := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"password of 7 characters", map[string]any{"email": randomEmail(), "password": "1234567", "encryption_tier": "uce"}, "password"},
		{"empty password", map[string]any{"email": randomEmail(), "password": "", "encryption_tier": "uce"}, "password"},
		{"password of 1025 bytes", map[string]any{"email": randomEmail(), "password": strings.Repeat("p", 1025), "encryption_tier": "uce"}, "password"},
		{"email without @", map[string]any{"email": "not-an-email", "password": "long enough", "encryption_tier": "uce"}, "email"},
		{"email with a display name", map[string]any{"email": "Ann <ann@example.test>", "password": "long enough", "encryption_tier": "uce"}, "email"},
		{"empty email", map[string]any{"email": "", "password": "long enough", "encryption_tier": "uce"}, "email"},
		{"email too long", map[string]any{"email": strings.Repeat("a", 250) + "@example.test", "password": "long enough", "encryption_tier": "uce"}, "email"},
		{"unknown tier", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "plain"}, "encryption_tier"},
		{"missing tier", map[string]any{"email": randomEmail(), "password": "long enough"}, "encryption_tier"},
		{"e2e without a key", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "e2e"}, "public_key"},
		{"e2e with a null key", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "e2e", "public_key": nil}, "public_key"},
		{"e2e with a key that is not base64", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "e2e", "public_key": "not base64!"}, "public_key"},
		{"e2e with a 31-byte key", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "e2e", "public_key": base64.StdEncoding.EncodeToString(make([]byte, 31))}, "public_key"},
		{"e2e with a low-order key", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "e2e", "public_key": lowOrder}, "public_key"},
		{"uce with a key", map[string]any{"email": randomEmail(), "password": "long enough", "encryption_tier": "uce", "public_key": newPublicKey(t)}, "public_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/signup", "", tt.body)
			e := assertError(t, resp, http.StatusUnprocessableEntity, "validation_error")
			if e.Fields[tt.field] == "" {
				t.Errorf("POST /signup fields = %v, want a message for %q", e.Fields, tt.field)
			}
			if email, _ := tt.body["email"].(string); email != "" {
				var n int
				if err := h.svc.DB.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, email).Scan(&n); err != nil || n != 0 {
					t.Errorf("users with the refused email = %d, %v, want 0", n, err)
				}
			}
		})
	}
}

func TestSignupEmailTaken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	a := sharedAccount(t, h, "e2e")
	for _, email := range []string{a.Email, strings.ToUpper(a.Email), strings.ToLower(a.Email)} {
		t.Run(email, func(t *testing.T) {
			t.Parallel()
			resp := do(t, h.h, randomIP(t), "POST", "/api/v1/auth/signup", "",
				map[string]any{"email": email, "password": "another password", "encryption_tier": "uce"})
			assertError(t, resp, http.StatusConflict, "email_taken")
		})
	}
}
