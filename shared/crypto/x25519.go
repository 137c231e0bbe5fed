package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/curve25519"
)

// ErrInvalidPublicKey is returned for an X25519 public key that is not 32
// bytes, is not canonically encoded, or is a low-order point whose shared
// secret would be all zeros whatever the private key.
var ErrInvalidPublicKey = errors.New("crypto: invalid X25519 public key")

// sealedBoxV1 is the first byte of every sealed box.
const sealedBoxV1 byte = 0x01

// sealedBoxInfo is the HKDF info string; the version in it ties the derived
// key to the sealed box format.
const sealedBoxInfo = "diary-sealed-box-v1"

// fieldPrime is p = 2^255 - 19 in little-endian, the bound for canonical
// X25519 encodings.
var fieldPrime = [32]byte{
	0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
}

// GenerateX25519 returns a fresh X25519 key pair, 32 bytes each. The private
// key is the raw scalar as RFC 7748 defines it.
func GenerateX25519() (public, private []byte, err error) {
	private = make([]byte, curve25519.ScalarSize)
	if _, err := rand.Read(private); err != nil {
		return nil, nil, fmt.Errorf("crypto: generate x25519: %w", err)
	}
	public, err = curve25519.X25519(private, curve25519.Basepoint)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: generate x25519: %w", err)
	}
	return public, private, nil
}

// ValidateX25519PublicKey checks a public key a client registers: it must be
// 32 bytes, canonically encoded (below 2^255 - 19, top bit clear, as every
// X25519 implementation emits), and not a low-order point. It returns
// ErrInvalidPublicKey otherwise.
func ValidateX25519PublicKey(pub []byte) error {
	if len(pub) != curve25519.PointSize || !isCanonical(pub) {
		return ErrInvalidPublicKey
	}
	// X25519 clamps every scalar to a multiple of the cofactor 8, so the
	// product is the all-zero point exactly when pub lies in the small
	// subgroup; curve25519.X25519 reports that as an error. This covers every
	// low-order point without a hand-kept blocklist.
	scalar := make([]byte, curve25519.ScalarSize)
	if _, err := rand.Read(scalar); err != nil {
		return fmt.Errorf("crypto: validate x25519: %w", err)
	}
	defer clear(scalar)
	if _, err := curve25519.X25519(scalar, pub); err != nil {
		return ErrInvalidPublicKey
	}
	return nil
}

// isCanonical reports whether the little-endian u in pub is below p; that
// also requires the top bit to be clear.
func isCanonical(pub []byte) bool {
	for i := len(fieldPrime) - 1; i >= 0; i-- {
		if pub[i] != fieldPrime[i] {
			return pub[i] < fieldPrime[i]
		}
	}
	return false // equal to p
}

// sealedBoxKey derives the envelope key of a sealed box from the shared
// secret, binding both public keys through the HKDF salt.
func sealedBoxKey(shared, ephPub, recipientPub []byte) ([]byte, error) {
	salt := make([]byte, 0, len(ephPub)+len(recipientPub))
	salt = append(salt, ephPub...)
	salt = append(salt, recipientPub...)
	return hkdf.Key(sha256.New, shared, salt, sealedBoxInfo, KeySize)
}

// SealToPublicKey encrypts plaintext so that only the holder of the private
// key of recipientPub can read it, and binds ad to it. Jobs that bring content
// in while the user is away use it, so they never need the user's master key.
// The box is anonymous: version byte 0x01 || ephemeral public key (32) ||
// the Seal envelope under HKDF-SHA256(shared secret, salt = ephemeral public
// key || recipientPub, info "diary-sealed-box-v1").
func SealToPublicKey(recipientPub, plaintext []byte, ad AD) ([]byte, error) {
	if err := ValidateX25519PublicKey(recipientPub); err != nil {
		return nil, fmt.Errorf("crypto: seal to public key: %w", err)
	}
	ephPub, ephPriv, err := GenerateX25519()
	if err != nil {
		return nil, fmt.Errorf("crypto: seal to public key: %w", err)
	}
	defer clear(ephPriv)
	shared, err := curve25519.X25519(ephPriv, recipientPub)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal to public key: %w", ErrInvalidPublicKey)
	}
	defer clear(shared)
	key, err := sealedBoxKey(shared, ephPub, recipientPub)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal to public key: %w", err)
	}
	defer clear(key)
	envelope, err := Seal(key, plaintext, ad)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal to public key: %w", err)
	}
	out := make([]byte, 0, 1+len(ephPub)+len(envelope))
	out = append(out, sealedBoxV1)
	out = append(out, ephPub...)
	return append(out, envelope...), nil
}

// OpenWithPrivateKey opens a box from SealToPublicKey with the recipient's
// private key and the same ad. A wrong key or ad, tampering, truncation or an
// unknown version returns ErrDecrypt.
func OpenWithPrivateKey(recipientPriv, sealed []byte, ad AD) ([]byte, error) {
	if len(recipientPriv) != curve25519.ScalarSize {
		return nil, fmt.Errorf("crypto: open with private key: %w", errKeySize)
	}
	if len(sealed) < 1+curve25519.PointSize+Overhead() || sealed[0] != sealedBoxV1 {
		return nil, ErrDecrypt
	}
	ephPub := sealed[1 : 1+curve25519.PointSize]
	envelope := sealed[1+curve25519.PointSize:]
	if !isCanonical(ephPub) {
		return nil, ErrDecrypt
	}
	recipientPub, err := curve25519.X25519(recipientPriv, curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("crypto: open with private key: %w", err)
	}
	shared, err := curve25519.X25519(recipientPriv, ephPub)
	if err != nil {
		return nil, ErrDecrypt // low-order ephemeral key: never made by SealToPublicKey
	}
	defer clear(shared)
	key, err := sealedBoxKey(shared, ephPub, recipientPub)
	if err != nil {
		return nil, fmt.Errorf("crypto: open with private key: %w", err)
	}
	defer clear(key)
	return Open(key, envelope, ad)
}
