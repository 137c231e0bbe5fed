package crypto

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size in bytes of every symmetric key this package uses or
// returns: envelope keys, Argon2id outputs and recovery wrap keys.
const KeySize = 32

// envelopeV1 is the first byte of every envelope Seal produces. It is also
// bound into the associated data, so it cannot be rewritten.
const envelopeV1 byte = 0x01

// ErrDecrypt is returned by Open (and UnwrapPrivateKey) when a message cannot
// be opened: it was tampered with or truncated, the key or the associated data
// is wrong, or the version byte is unknown. The cause is deliberately not told
// apart, so a caller cannot become a decryption oracle.
var ErrDecrypt = errors.New("crypto: message authentication failed")

// errKeySize reports a key of the wrong length, which is a programming error
// rather than a forged message, so it is kept apart from ErrDecrypt.
var errKeySize = errors.New("key must be 32 bytes")

// AD is the associated data bound into every envelope so a ciphertext cannot
// move to another owner, record or purpose: Open succeeds only with the very
// same three values Seal was given.
type AD struct {
	Owner   string // the user the data belongs to
	Record  string // the row or object the ciphertext is stored in
	Purpose string // what the ciphertext is, e.g. "entry.body" or "master-key.password"
}

// encode writes the version byte and each field behind a 4-byte length, so no
// two distinct ADs (say {"a","bc"} and {"ab","c"}) produce the same bytes.
func (ad AD) encode(version byte) []byte {
	b := make([]byte, 0, 1+3*4+len(ad.Owner)+len(ad.Record)+len(ad.Purpose))
	b = append(b, version)
	for _, f := range [...]string{ad.Owner, ad.Record, ad.Purpose} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// NewKey returns a fresh random KeySize-byte key, for a user's master key or
// any other envelope key.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("crypto: new key: %w", err)
	}
	return key, nil
}

// Overhead reports how many bytes Seal adds to a plaintext: the version byte,
// the 24-byte nonce and the 16-byte Poly1305 tag.
func Overhead() int {
	return 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
}

// Seal encrypts plaintext under key with XChaCha20-Poly1305 and binds ad to it.
// The envelope is version byte 0x01 || 24-byte random nonce || ciphertext and
// tag. The random nonce is large enough that one key can seal any number of
// messages without tracking nonces.
func Seal(key, plaintext []byte, ad AD) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal: %w", err)
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, Overhead()+len(plaintext))
	out[0] = envelopeV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("crypto: seal: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, ad.encode(envelopeV1)), nil
}

// Open decrypts an envelope made by Seal with the same key and ad. Any
// failure to authenticate, including an unknown version or a short envelope,
// returns ErrDecrypt.
func Open(key, envelope []byte, ad AD) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	if len(envelope) < Overhead() || envelope[0] != envelopeV1 {
		return nil, ErrDecrypt
	}
	nonce := envelope[1 : 1+chacha20poly1305.NonceSizeX]
	ciphertext := envelope[1+chacha20poly1305.NonceSizeX:]
	plaintext, err := aead.Open(nil, nonce, ciphertext, ad.encode(envelopeV1))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, errKeySize
	}
	return chacha20poly1305.NewX(key)
}
