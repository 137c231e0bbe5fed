package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func keys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestVerify(t *testing.T) {
	pub, priv := keys(t)
	_, otherPriv := keys(t)
	v := NewVerifier(pub, "diary-auth", "diary-api")
	good, _, err := NewIssuer(priv, "diary-auth", "diary-api").Issue("u1", "s1", "uce")
	if err != nil {
		t.Fatal(err)
	}
	claims := func(aud string, exp time.Time) Claims {
		return Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "diary-auth", Subject: "u1", Audience: jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(time.Now().Add(-time.Hour))}, SessionID: "s1", Tier: "uce"}
	}
	sign := func(m jwt.SigningMethod, key any, c Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	later := time.Now().Add(time.Hour)
	expired := NewIssuer(priv, "diary-auth", "diary-api")
	expired.now = func() time.Time { return time.Now().Add(-time.Hour) }
	expiredTok, _, _ := expired.Issue("u1", "s1", "uce")
	tests := []struct {
		name  string
		raw   string
		valid bool
	}{
		{"good", good, true},
		{"other key", sign(jwt.SigningMethodEdDSA, otherPriv, claims("diary-api", later)), false},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("diary-api", later)), false},
		{"hs256 with public key", sign(jwt.SigningMethodHS256, []byte(pub), claims("diary-api", later)), false},
		{"expired", expiredTok, false},
		{"wrong audience", sign(jwt.SigningMethodEdDSA, priv, claims("other-api", later)), false},
		{"garbage", "abc.def.ghi", false},
		{"tampered", tamperSignature(t, good), false},
		{"signature with non-zero trailing bits", nonCanonicalSignature(t, good), false},
		{"line break in signature", good[:len(good)-10] + "\n" + good[len(good)-10:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.raw)
			if (err == nil) != tt.valid {
				t.Fatalf("Verify(%s) = %v, want valid=%v", tt.name, err, tt.valid)
			}
			if tt.valid && (c.Subject != "u1" || c.SessionID != "s1" || c.Tier != "uce") {
				t.Fatalf("Verify(%s) claims = %+v", tt.name, c)
			}
		})
	}
}

// tamperSignature flips one bit in the middle of the token's decoded signature. Changing
// the last characters instead is not always a change: the top bits of an Ed25519
// signature's last byte are zero, so "AA" there is often the same token.
func tamperSignature(t *testing.T, raw string) string {
	t.Helper()
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return raw[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// nonCanonicalSignature spells the same signature bytes another way: the last character of
// a 64-byte signature carries 2 bits and 4 padding bits, and a lax decoder ignores padding
// bits that are set.
func nonCanonicalSignature(t *testing.T, raw string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, raw[len(raw)-1])
	if last < 0 || last&0x0f != 0 {
		t.Fatalf("signature ends in %q, want a canonical final character", raw[len(raw)-1])
	}
	other := raw[:len(raw)-1] + string(alphabet[last|0x01])
	dot := strings.LastIndexByte(raw, '.')
	a, errA := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	b, errB := base64.RawURLEncoding.DecodeString(other[dot+1:])
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Fatalf("non-canonical spelling decodes to other bytes (%v, %v)", errA, errB)
	}
	return other
}

func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	raw, _, _ := NewIssuer(priv, "i", "a").Issue("u", "s", "e2e")
	v := NewVerifier(pub, "i", "a")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifiedCache(t *testing.T) {
	pub, priv := keys(t)
	v := NewVerifier(pub, "diary-auth", "diary-api")
	raw, _, err := NewIssuer(priv, "diary-auth", "diary-api").Issue("u1", "s1", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	first, err := v.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	first.Subject = "changed by a caller"
	second, err := v.Verify(raw)
	if err != nil || second.Subject != "u1" {
		t.Fatalf("Verify(cached) = %+v, %v, want subject u1 unaffected by callers", second, err)
	}
	// A cached token stops verifying when it expires, even though it is still cached.
	c := newVerifiedCache(4)
	var key [32]byte
	c.put(key, &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}})
	if _, ok := c.get(key, time.Now()); !ok {
		t.Fatalf("get(live) = miss, want hit")
	}
	if _, ok := c.get(key, time.Now().Add(2*time.Minute)); ok {
		t.Fatalf("get(expired) = hit, want miss")
	}
	// The cache stays bounded.
	for i := range 20 {
		k := [32]byte{byte(i + 1)}
		c.put(k, &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}})
	}
	if n := len(c.entries); n > 4 {
		t.Fatalf("cache holds %d entries, want at most 4", n)
	}
}
