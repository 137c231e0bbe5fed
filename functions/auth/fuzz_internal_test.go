package auth

import (
	"encoding/base64"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi/httpapitest"
)

// authBody is one endpoint's body as its handler reads it: run decodes it with
// httpapi.DecodeJSON and the handler's limit, then validates it as the handler does, and
// returns the checks of what an accepted body promises.
type authBody struct {
	name  string
	limit int64
	run   func(body []byte) (accepted func(t *testing.T), err error)
}

// validated is the authBody of a request whose validation returns only an error; check
// asserts what an accepted one promises.
func validated[T any](name string, validate func(*T) error, check func(*testing.T, *T)) authBody {
	return authBody{name, bodyLimit, func(body []byte) (func(*testing.T), error) {
		req, err := httpapitest.DecodeValid(body, bodyLimit, validate)
		if err != nil {
			return nil, err
		}
		return func(t *testing.T) { check(t, req) }, nil
	}}
}

// authBodies lists every JSON body the auth function takes, in a fixed order: the fuzz
// input's first byte picks one.
var authBodies = []authBody{
	{"signup", bodyLimit, func(body []byte) (func(*testing.T), error) {
		var req signupRequest
		if err := httpapitest.Decode(body, &req, bodyLimit); err != nil {
			return nil, err
		}
		key, err := req.validate()
		if err != nil {
			return nil, err
		}
		return func(t *testing.T) {
			if addr, err := mail.ParseAddress(req.Email); err != nil || addr.Address != req.Email || addr.Name != "" ||
				len(req.Email) > maxEmailBytes || strings.TrimSpace(req.Email) != req.Email {
				t.Fatalf("signup accepted email %q", req.Email)
			}
			wantPassword(t, req.Password)
			switch req.EncryptionTier {
			case "e2e":
				if crypto.ValidateX25519PublicKey(key) != nil || base64.StdEncoding.EncodeToString(key) != *req.PublicKey {
					t.Fatalf("signup accepted public key %q as %x", *req.PublicKey, key)
				}
			case "uce":
				if key != nil || req.PublicKey != nil {
					t.Fatalf("uce signup accepted a public key")
				}
			default:
				t.Fatalf("signup accepted tier %q", req.EncryptionTier)
			}
		}, nil
	}},
	validated("login", (*loginRequest).validate, func(t *testing.T, req *loginRequest) {
		wantEmail(t, req.Email)
		if req.Password == "" {
			t.Fatalf("login accepted an empty password")
		}
	}),
	validated("refresh", (*refreshRequest).validate, func(t *testing.T, req *refreshRequest) {
		if req.RefreshToken == "" {
			t.Fatalf("refresh accepted an empty token")
		}
	}),
	validated("verify-recovery-code", (*verifyRecoveryCodeRequest).validate, func(t *testing.T, req *verifyRecoveryCodeRequest) {
		wantEmail(t, req.Email)
		if req.RecoveryCode == "" {
			t.Fatalf("verify accepted an empty recovery code")
		}
	}),
	validated("change-password", (*changePasswordRequest).validate, func(t *testing.T, req *changePasswordRequest) {
		if req.CurrentPassword == "" {
			t.Fatalf("change accepted an empty current password")
		}
		wantPassword(t, req.NewPassword)
	}),
	validated("reset-password", (*resetPasswordRequest).validate, func(t *testing.T, req *resetPasswordRequest) {
		wantEmail(t, req.Email)
		if req.RecoveryCode == "" {
			t.Fatalf("reset accepted an empty recovery code")
		}
		wantPassword(t, req.NewPassword)
	}),
	validated("recovery-codes", (*newRecoveryCodesRequest).validate, func(t *testing.T, req *newRecoveryCodesRequest) {
		if req.Password == "" {
			t.Fatalf("recovery codes accepted an empty password")
		}
	}),
	{"key-backup", keyBackupBodyLimit, func(body []byte) (func(*testing.T), error) {
		var req putKeyBackupRequest
		if err := httpapitest.Decode(body, &req, keyBackupBodyLimit); err != nil {
			return nil, err
		}
		blob, err := req.blob()
		if err != nil {
			return nil, err
		}
		return func(t *testing.T) {
			if len(blob) == 0 || len(blob) > maxKeyBackupBytes {
				t.Fatalf("key backup accepted %d bytes", len(blob))
			}
			// What GET /key-backup answers decodes to the same bytes.
			back, err := base64.StdEncoding.DecodeString(base64.StdEncoding.EncodeToString(blob))
			if err != nil || string(back) != string(blob) {
				t.Fatalf("key backup does not round-trip")
			}
		}, nil
	}},
	validated("delete-me", (*deleteAccountRequest).validate, func(t *testing.T, req *deleteAccountRequest) {
		if req.Password == "" {
			t.Fatalf("delete accepted an empty password")
		}
	}),
}

func wantEmail(t *testing.T, email string) {
	t.Helper()
	if email == "" || strings.TrimSpace(email) != email {
		t.Fatalf("accepted email %q", email)
	}
}

func wantPassword(t *testing.T, password string) {
	t.Helper()
	if utf8.RuneCountInString(password) < minPasswordChars || len(password) > maxPasswordBytes {
		t.Fatalf("accepted a password of %d characters, %d bytes", utf8.RuneCountInString(password), len(password))
	}
}

// FuzzRequestBodies feeds every auth endpoint's JSON body through the decoder and the
// validation its handler runs before any database, Redis or key work. A refusal is one of
// the API's errors that httpapi.Fail answers with a 4xx (never a 500); an accepted body is
// within the documented limits (API.md, Auth).
func FuzzRequestBodies(f *testing.F) {
	pub, _, err := crypto.GenerateX25519()
	if err != nil {
		f.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(pub)
	seeds := map[string][]string{
		"signup": {
			`{"email":"ann@example.com","password":"correct horse","encryption_tier":"uce"}`,
			`{"email":" ann@example.com ","password":"correct horse","encryption_tier":"e2e","public_key":"` + key + `"}`,
			`{"email":"Ann <ann@example.com>","password":"short","encryption_tier":"e2e","public_key":""}`,
			`{"email":"ann@example.com","password":"correct horse","encryption_tier":"e2e","public_key":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`,
			`{"email":"ann@example.com","password":"` + strings.Repeat("é", 600) + `","encryption_tier":"uce","public_key":null}`,
			`{"email":"ann@example.com","password":"correct horse","encryption_tier":"UCE","extra":1}`,
		},
		"login":                {`{"email":"ann@example.com","password":"correct horse"}`, `{"email":"  ","password":""}`, `{"email":1}`},
		"refresh":              {`{"refresh_token":"r1.abc"}`, `{"refresh_token":""}`, `{}`},
		"verify-recovery-code": {`{"email":"ann@example.com","recovery_code":"ABCD-EFGH-IJKL"}`, `{"email":"ann@example.com"}`},
		"change-password":      {`{"current_password":"correct horse","new_password":"battery staple"}`, `{"current_password":"","new_password":"1234567"}`},
		"reset-password":       {`{"email":"ann@example.com","recovery_code":"ABCD-EFGH-IJKL","new_password":"battery staple"}`, `{"email":"","recovery_code":"","new_password":""}`},
		"recovery-codes":       {`{"password":"correct horse"}`, `{"password":null}`},
		"key-backup":           {`{"ciphertext":"AAECAw=="}`, `{"ciphertext":""}`, `{"ciphertext":"AAECAw"}`, `{"ciphertext":"` + base64.StdEncoding.EncodeToString(make([]byte, maxKeyBackupBytes+1)) + `"}`},
		"delete-me":            {`{"password":"correct horse"}`, `{}`, `[]`, `{"password":"x"} {}`},
	}
	for i, b := range authBodies {
		for _, s := range seeds[b.name] {
			f.Add(byte(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, endpoint byte, body []byte) {
		b := authBodies[int(endpoint)%len(authBodies)]
		check, err := b.run(body)
		if err != nil {
			httpapitest.WantClientError(t, b.name, err)
			return
		}
		if int64(len(body)) > b.limit {
			t.Fatalf("%s accepted %d bytes over its %d-byte limit", b.name, len(body), b.limit)
		}
		check(t)
	})
}
