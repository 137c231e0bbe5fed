package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"
)

func mustX25519(t testing.TB) (pub, priv []byte) {
	t.Helper()
	pub, priv, err := GenerateX25519()
	if err != nil {
		t.Fatalf("GenerateX25519() = %v", err)
	}
	return pub, priv
}

func TestGenerateX25519(t *testing.T) {
	pub, priv := mustX25519(t)
	pub2, priv2 := mustX25519(t)
	if len(pub) != 32 || len(priv) != 32 {
		t.Fatalf("GenerateX25519() sizes = %d, %d, want 32, 32", len(pub), len(priv))
	}
	if bytes.Equal(pub, pub2) || bytes.Equal(priv, priv2) {
		t.Errorf("GenerateX25519() returned the same key twice")
	}
	if err := ValidateX25519PublicKey(pub); err != nil {
		t.Errorf("ValidateX25519PublicKey(generated %x) = %v, want nil", pub, err)
	}
}

// TestX25519RFC7748 checks key generation against the RFC 7748 §6.1 vector.
func TestX25519RFC7748(t *testing.T) {
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	wantPub := "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
	// Through the sealed box: a box to the RFC public key opens with the RFC
	// private key, which needs the same public key to be derived from it.
	pub, _ := hex.DecodeString(wantPub)
	if err := ValidateX25519PublicKey(pub); err != nil {
		t.Fatalf("ValidateX25519PublicKey(%s) = %v, want nil", wantPub, err)
	}
	box, err := SealToPublicKey(pub, []byte("hi"), AD{})
	if err != nil {
		t.Fatalf("SealToPublicKey() = %v", err)
	}
	if got, err := OpenWithPrivateKey(priv, box, AD{}); err != nil || string(got) != "hi" {
		t.Errorf("OpenWithPrivateKey(RFC 7748 key) = %q, %v, want %q, nil", got, err, "hi")
	}
}

// lowOrderPoints are the canonical u-coordinates of the small subgroup of
// Curve25519 and its twist, as in libsodium's blocklist
// (crypto_scalarmult/curve25519/ref10/x25519_ref10.c), before its two
// non-canonical entries p and p+1, which lowOrderEncodings adds back.
var lowOrderPoints = map[string]string{
	"0 (order 4)":   "0000000000000000000000000000000000000000000000000000000000000000",
	"1 (order 1)":   "0100000000000000000000000000000000000000000000000000000000000000",
	"order 8 (a)":   "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"order 8 (b)":   "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"p-1 (order 2)": "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// lowOrderEncodings returns every 32-byte encoding of the low-order points:
// u + k·p for each k that fits in 256 bits (covering libsodium's p and p+1
// and the forms with the top bit set that X25519 masks off).
func lowOrderEncodings(t *testing.T) map[string][]byte {
	t.Helper()
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	limit := new(big.Int).Lsh(big.NewInt(1), 256)
	out := map[string][]byte{}
	for name, h := range lowOrderPoints {
		le, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		u := new(big.Int).SetBytes(reverse(le))
		for k := 0; ; k++ {
			v := new(big.Int).Add(u, new(big.Int).Mul(big.NewInt(int64(k)), p))
			if v.Cmp(limit) >= 0 {
				break
			}
			out[fmt.Sprintf("%s + %d·p", name, k)] = reverse(v.FillBytes(make([]byte, 32)))
		}
		top := bytes.Clone(le)
		top[31] |= 0x80
		out[name+" with top bit"] = top
	}
	return out
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func TestValidateX25519PublicKeyRejects(t *testing.T) {
	pub, _ := mustX25519(t)
	tests := lowOrderEncodings(t)
	if len(tests) < 7+5 {
		t.Fatalf("only %d low-order encodings, want the 7 of libsodium's list and more", len(tests))
	}
	for _, n := range []int{0, 1, 31, 33, 64} {
		tests[fmt.Sprintf("%d bytes", n)] = bytes.Repeat([]byte{9}, n)
	}
	tests["valid key, 31 bytes"] = pub[:31]
	tests["valid key + 1 byte"] = append(bytes.Clone(pub), 0)
	topBit := bytes.Clone(pub)
	topBit[31] |= 0x80
	tests["valid key with top bit"] = topBit // the same point, not canonically encoded
	nine := make([]byte, 32)
	nine[0] = 9
	p9, _ := hex.DecodeString("f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	tests["base point + p"] = p9
	tests["all 0xff"] = bytes.Repeat([]byte{0xff}, 32)

	for name, key := range tests {
		t.Run(name, func(t *testing.T) {
			if err := ValidateX25519PublicKey(key); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("ValidateX25519PublicKey(%x) = %v, want %v", key, err, ErrInvalidPublicKey)
			}
			if _, err := SealToPublicKey(key, []byte("x"), AD{}); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("SealToPublicKey(%x) = %v, want %v", key, err, ErrInvalidPublicKey)
			}
		})
	}
	if err := ValidateX25519PublicKey(nine); err != nil {
		t.Errorf("ValidateX25519PublicKey(base point) = %v, want nil", err)
	}
}

func TestSealedBox(t *testing.T) {
	pub, priv := mustX25519(t)
	_, otherPriv := mustX25519(t)
	ad := AD{Owner: "user-1", Record: "import-9", Purpose: "facebook.post"}
	plaintext := []byte("a post pulled while the user was away")

	box, err := SealToPublicKey(pub, plaintext, ad)
	if err != nil {
		t.Fatalf("SealToPublicKey() = %v", err)
	}
	if got, want := len(box), 1+32+Overhead()+len(plaintext); got != want {
		t.Errorf("len(SealToPublicKey()) = %d, want %d", got, want)
	}
	if box[0] != 0x01 {
		t.Errorf("SealToPublicKey()[0] = %#x, want 0x01", box[0])
	}
	got, err := OpenWithPrivateKey(priv, box, ad)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("OpenWithPrivateKey() = %q, %v, want %q, nil", got, err, plaintext)
	}

	box2, err := SealToPublicKey(pub, plaintext, ad)
	if err != nil {
		t.Fatalf("SealToPublicKey() = %v", err)
	}
	if bytes.Equal(box[1:33], box2[1:33]) {
		t.Errorf("two boxes share the ephemeral key %x", box[1:33])
	}

	type tc struct {
		name string
		priv []byte
		box  []byte
		ad   AD
	}
	tests := []tc{
		{"wrong private key", otherPriv, box, ad},
		{"other owner", priv, box, AD{"user-2", ad.Record, ad.Purpose}},
		{"other record", priv, box, AD{ad.Owner, "import-10", ad.Purpose}},
		{"other purpose", priv, box, AD{ad.Owner, ad.Record, "entry.body"}},
		{"other ephemeral key", priv, append(append([]byte{1}, box2[1:33]...), box[33:]...), ad},
	}
	for i := range box {
		flipped := bytes.Clone(box)
		flipped[i] ^= 0x01
		tests = append(tests, tc{fmt.Sprintf("flip byte %d", i), priv, flipped, ad})
	}
	for _, n := range []int{0, 1, 32, 33, 33 + Overhead() - 1, len(box) - 1} {
		tests = append(tests, tc{fmt.Sprintf("truncated to %d", n), priv, box[:n], ad})
	}
	for name, low := range lowOrderEncodings(t) {
		forged := append(append([]byte{1}, low...), box[33:]...)
		tests = append(tests, tc{"ephemeral " + name, priv, forged, ad})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OpenWithPrivateKey(tt.priv, tt.box, tt.ad)
			if !errors.Is(err, ErrDecrypt) || got != nil {
				t.Errorf("OpenWithPrivateKey(%x) = %q, %v, want nil, %v", tt.box, got, err, ErrDecrypt)
			}
		})
	}
}

func TestOpenWithPrivateKeyBadKeySize(t *testing.T) {
	pub, _ := mustX25519(t)
	box, err := SealToPublicKey(pub, []byte("x"), AD{})
	if err != nil {
		t.Fatalf("SealToPublicKey() = %v", err)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := OpenWithPrivateKey(make([]byte, n), box, AD{}); err == nil {
			t.Errorf("OpenWithPrivateKey(%d-byte key) = nil error, want an error", n)
		}
	}
}
