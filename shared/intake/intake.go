// Package intake owns content that arrives for a user while they are away: a Facebook post
// pulled by the sync consumer, an entry of an imported archive. No job ever holds a user's
// master key, so such content is sealed to the user's X25519 public key instead, which the
// server always has (users.public_key), and becomes an entry at once (Deliver):
//
//   - e2e: the sealed box is the entry's ciphertext, stored verbatim and marked with the
//     format "intake/v1" (entries.ciphertext_format); the client opens it with its private
//     key using any RFC 9180 library (docs/intake.md gives the format and a test vector).
//   - uce: the box waits in entries.intake_box and the entry is listed with pending: true
//     and no text. The server holds the user's private key wrapped by the master key
//     (users.wrapped_private_key), so the user's next authenticated request that touches
//     entries unwraps it and re-seals each pending box under the master key in the one
//     uce body format (shared/entrybody), in bounded batches (Redeem). A Redis marker per
//     user (Pending) tells a request cheaply whether there is anything to redeem; a login
//     restores it from the database (Pending.Restore).
//
// The box: HPKE (RFC 9180) in mode base with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
// ChaCha20-Poly1305, info = "diary/intake/v1/" + entry id, no associated data; the box is
// the 32-byte encapsulated key followed by the ciphertext; the plaintext is the JSON
// {"title": string or null, "content": string}. The entry id in info binds a box to its
// entry: moved to another row, it does not open.
//
// This package is the second writer of the entries table (docs/architecture.md): it
// inserts and redeems under the user's entry lock (userlock.Entries), with a history row
// and a change_seq like every entries write.
package intake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/crypto"
)

// Format is the value of entries.ciphertext_format, and of an e2e entry's
// ciphertext_format in the API, that marks a ciphertext as an intake box.
const Format = "intake/v1"

// infoPrefix starts the HPKE info of every box; the entry id follows it.
const infoPrefix = "diary/intake/v1/"

// EncapsulatedKeySize is the size of the box's leading encapsulated key (Nenc of
// DHKEM(X25519, HKDF-SHA256)).
const EncapsulatedKeySize = 32

// Overhead is how many bytes a box adds to its JSON plaintext: the encapsulated key and
// the ChaCha20-Poly1305 tag.
const Overhead = EncapsulatedKeySize + 16

// The suite, RFC 9180 ids 0x0020, 0x0001, 0x0003.
var (
	kem  = hpke.DHKEM(ecdh.X25519())
	kdf  = hpke.HKDFSHA256()
	aead = hpke.ChaCha20Poly1305()
)

// ErrInvalidPublicKey is returned by Seal for a public key that is not a valid X25519
// key: not 32 bytes, not canonically encoded, or a low-order point.
var ErrInvalidPublicKey = crypto.ErrInvalidPublicKey

// ErrUnreadable is returned by Open for a box that does not open: a wrong private key or
// entry id, a truncated or tampered box, or a plaintext that is not the JSON body. The
// cause is not told apart.
var ErrUnreadable = errors.New("intake: box does not open")

// Body is what a box holds: the entry's title (nil: none) and content.
type Body struct {
	Title   *string `json:"title"`
	Content string  `json:"content"`
}

// info is the HPKE info of the box of entryID.
func info(entryID string) []byte {
	return []byte(infoPrefix + entryID)
}

// Seal seals b for the entry entryID to the X25519 public key publicKey. Every box is
// different (a fresh ephemeral key each time).
func Seal(publicKey []byte, entryID string, b Body) ([]byte, error) {
	if err := crypto.ValidateX25519PublicKey(publicKey); err != nil {
		return nil, fmt.Errorf("intake: seal: %w", err)
	}
	pk, err := kem.NewPublicKey(publicKey)
	if err != nil {
		return nil, fmt.Errorf("intake: seal: %w", ErrInvalidPublicKey)
	}
	plaintext, err := marshalBody(b)
	if err != nil {
		return nil, fmt.Errorf("intake: seal: %w", err)
	}
	defer clear(plaintext)
	box, err := hpke.Seal(pk, kdf, aead, info(entryID), plaintext)
	if err != nil {
		return nil, fmt.Errorf("intake: seal: %w", err)
	}
	return box, nil
}

// marshalBody is the plaintext of a box: {"title":...,"content":...}, without HTML
// escaping (a client decodes it as plain JSON either way).
func marshalBody(b Body) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Open opens a box of the entry entryID with the X25519 private key privateKey (the raw
// 32-byte scalar, as crypto.GenerateX25519 makes it). Anything that does not open gives
// ErrUnreadable.
func Open(privateKey []byte, entryID string, box []byte) (Body, error) {
	if len(privateKey) != 32 {
		return Body{}, fmt.Errorf("intake: open: private key must be 32 bytes")
	}
	sk, err := kem.NewPrivateKey(privateKey)
	if err != nil {
		return Body{}, fmt.Errorf("intake: open: %w", err)
	}
	if len(box) < Overhead {
		return Body{}, ErrUnreadable
	}
	plaintext, err := hpke.Open(sk, kdf, aead, info(entryID), box)
	if err != nil {
		return Body{}, ErrUnreadable
	}
	defer clear(plaintext)
	var b Body
	dec := json.NewDecoder(bytes.NewReader(plaintext))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		return Body{}, ErrUnreadable
	}
	return b, nil
}

// validEntryID reports whether id is a UUID in its canonical form, the form the info
// string binds.
func validEntryID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
