package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"golang.org/x/crypto/curve25519"
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

// TestX25519RFC7748 checks the RFC 7748 §6.1 key pair: its public key passes
// validation and is the one derived from its private key, as GenerateX25519 derives it.
func TestX25519RFC7748(t *testing.T) {
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	wantPub := "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
	pub, _ := hex.DecodeString(wantPub)
	if err := ValidateX25519PublicKey(pub); err != nil {
		t.Fatalf("ValidateX25519PublicKey(%s) = %v, want nil", wantPub, err)
	}
	got, err := curve25519.X25519(priv, curve25519.Basepoint)
	if err != nil || !bytes.Equal(got, pub) {
		t.Errorf("X25519(RFC 7748 private key, base point) = %x, %v, want %s", got, err, wantPub)
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
		})
	}
	if err := ValidateX25519PublicKey(nine); err != nil {
		t.Errorf("ValidateX25519PublicKey(base point) = %v, want nil", err)
	}
}

func TestWrapPrivateKey(t *testing.T) {
	_, priv := mustX25519(t)
	master, other := mustKey(t), mustKey(t)
	wrapped, err := WrapPrivateKey(master, "user-1", priv)
	if err != nil {
		t.Fatalf("WrapPrivateKey() = %v", err)
	}
	got, err := UnwrapPrivateKey(master, "user-1", wrapped)
	if err != nil || !bytes.Equal(got, priv) {
		t.Fatalf("UnwrapPrivateKey() = %x, %v, want %x, nil", got, err, priv)
	}
	// The format: the envelope with AD{user, user, PurposePrivateKeyWrap}, as signup has
	// always written it.
	if pt, err := Open(master, wrapped, AD{Owner: "user-1", Record: "user-1", Purpose: "x25519-private-key/master"}); err != nil || !bytes.Equal(pt, priv) {
		t.Errorf("Open(wrapped, AD{user, user, x25519-private-key/master}) = %x, %v, want the key", pt, err)
	}
	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 1
	for _, tt := range []struct {
		name    string
		key     []byte
		user    string
		wrapped []byte
	}{
		{"other master key", other, "user-1", wrapped},
		{"other user", master, "user-2", wrapped},
		{"tampered", master, "user-1", flipped},
		{"truncated", master, "user-1", wrapped[:len(wrapped)-1]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := UnwrapPrivateKey(tt.key, tt.user, tt.wrapped); !errors.Is(err, ErrDecrypt) || got != nil {
				t.Errorf("UnwrapPrivateKey() = %x, %v, want nil, %v", got, err, ErrDecrypt)
			}
		})
	}
	short, err := Seal(master, priv[:31], AD{Owner: "user-1", Record: "user-1", Purpose: PurposePrivateKeyWrap})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapPrivateKey(master, "user-1", short); err == nil || got != nil {
		t.Errorf("UnwrapPrivateKey(a 31-byte key) = %x, %v, want an error", got, err)
	}
}
