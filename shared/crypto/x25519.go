package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/curve25519"
)

// ErrInvalidPublicKey is returned for an X25519 public key that is not 32
// bytes, is not canonically encoded, or is a low-order point whose shared
// secret would be all zeros whatever the private key.
var ErrInvalidPublicKey = errors.New("crypto: invalid X25519 public key")

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

// PurposePrivateKeyWrap is the purpose bound into the associated data of a uce user's
// X25519 private key sealed under the master key (users.wrapped_private_key), with the
// user id as both owner and record, so a wrapped key cannot be moved to another user or
// role.
const PurposePrivateKeyWrap = "x25519-private-key/master"

// WrapPrivateKey seals a uce user's X25519 private key under their master key: the
// users.wrapped_private_key column, written at signup.
func WrapPrivateKey(masterKey []byte, userID string, private []byte) ([]byte, error) {
	wrapped, err := Seal(masterKey, private, privateKeyAD(userID))
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap private key: %w", err)
	}
	return wrapped, nil
}

// UnwrapPrivateKey opens users.wrapped_private_key with the user's master key. The caller
// wipes the key (clear) once done. A wrong key, user or tampered value returns ErrDecrypt.
func UnwrapPrivateKey(masterKey []byte, userID string, wrapped []byte) ([]byte, error) {
	private, err := Open(masterKey, wrapped, privateKeyAD(userID))
	if err != nil {
		return nil, fmt.Errorf("crypto: unwrap private key: %w", err)
	}
	if len(private) != curve25519.ScalarSize {
		clear(private)
		return nil, fmt.Errorf("crypto: unwrap private key: %w", errKeySize)
	}
	return private, nil
}

func privateKeyAD(userID string) AD {
	return AD{Owner: userID, Record: userID, Purpose: PurposePrivateKeyWrap}
}
