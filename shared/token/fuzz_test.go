package token

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds Verify bearer tokens a client can send. Only the token the issuer
// signed verifies: with strict decoding a signed token has one spelling, so any other
// string (a changed claim, padding, trailing bits, another algorithm) is refused, and none
// panics.
func FuzzVerify(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := seed.Public().(ed25519.PublicKey)
	// The fuzzer runs this body again in each worker process, so the good token must be
	// the same in each: fixed claims (Ed25519 signatures are deterministic), valid to 2100.
	good, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "diary-auth", Subject: "u1", Audience: jwt.ClaimStrings{"diary-api"}, ID: "jti-1",
			IssuedAt:  jwt.NewNumericDate(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			ExpiresAt: jwt.NewNumericDate(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
		SessionID: "s1", Tier: "uce",
	}).SignedString(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good + "=")
	f.Add(strings.TrimSuffix(good, good[len(good)-1:]))
	f.Add("abc.def.ghi")
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.")
	v := NewVerifier(pub, "diary-auth", "diary-api")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			return
		}
		if raw != good || c.Subject != "u1" || c.SessionID != "s1" {
			t.Fatalf("Verify accepted a token the issuer did not sign: %q", raw)
		}
	})
}
