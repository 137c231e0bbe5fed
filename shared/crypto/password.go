package crypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// bcryptCost is the work factor of every new password hash.
const bcryptCost = 12

// bcryptPrehashKey is the HMAC key of the pre-hash; the "v1" lets a later
// scheme be told apart.
var bcryptPrehashKey = []byte("diary-bcrypt-v1")

// prehash maps any password to 44 base64 bytes. bcrypt reads at most 72
// bytes and stops at NUL in many implementations; the HMAC makes every byte of
// a long password count, and base64 keeps NUL out of bcrypt's input.
func prehash(password string) []byte {
	mac := hmac.New(sha256.New, bcryptPrehashKey)
	mac.Write([]byte(password))
	return base64.StdEncoding.AppendEncode(nil, mac.Sum(nil))
}

// HashPassword returns the bcrypt hash (cost 12) of password for storage. The
// password is pre-hashed with HMAC-SHA256 so passwords longer than bcrypt's
// 72-byte limit are not truncated and NUL bytes are safe.
func HashPassword(password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword(prehash(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("crypto: hash password: %w", err)
	}
	return string(hash), nil
}

// CheckPassword reports whether password matches a hash from HashPassword.
// It returns false on any error, including a malformed hash. The comparison of
// the final digests is constant-time; the bcrypt work dominates the run time.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), prehash(password)) == nil
}

// dummyHash is a valid cost-12 hash of a random password nobody knows,
// computed on first use so importing the package stays cheap.
var dummyHash = sync.OnceValue(func() string {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand since Go 1.24)
	hash, err := HashPassword(string(secret))
	if err != nil {
		// Not reachable with a 44-byte input and a valid cost. This cost-12
		// hash of 32 discarded random bytes keeps the dummy check as slow as
		// a real one all the same.
		return "$2a$12$hYe.lZc.tbomEgZDbweh4.c1Phn3MwYluCK2w8V6bfgEDV3PjrtH2"
	}
	return hash
})

// DummyCheckPassword runs one bcrypt comparison against a fixed valid hash
// and throws the answer away, so a login for an unknown email costs the same
// time as a wrong password and does not reveal which emails exist.
func DummyCheckPassword(password string) {
	_ = CheckPassword(dummyHash(), password)
}
