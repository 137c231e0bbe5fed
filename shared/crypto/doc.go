// Package crypto owns the project's cryptography: the AEAD envelope, password
// and recovery-code key derivation, bcrypt, X25519 keys and recovery codes.
//
// Every format here is versioned by a leading byte or a domain string, so a
// parameter change ships as a new version rather than silently breaking data
// that is already stored. No error from this package contains key material,
// passwords, recovery codes or plaintext.
package crypto
