package crypto

import (
	"context"
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

// Passwords hashes and checks passwords with bcrypt (cost 12) under a Bound, so a storm
// of logins and signups queues for a slot instead of running every cost-12 bcrypt at once
// and starving the CPU. Passwords are pre-hashed with HMAC-SHA256, so passwords longer
// than bcrypt's 72-byte limit are not truncated and NUL bytes are safe. Create one per
// process and share it; it is safe for concurrent use.
type Passwords struct {
	bound *Bound
}

// NewPasswords returns a Passwords that runs at most as many bcrypt computations at once
// as bound has slots; nil means a Bound of its own with the default 2.
func NewPasswords(bound *Bound) *Passwords {
	if bound == nil {
		bound = NewBound(0)
	}
	bound.label("bcrypt")
	return &Passwords{bound: bound}
}

// Hash returns the bcrypt hash of password for storage. It waits for a free slot and
// gives up with ctx's error if ctx ends first; once started, the hash runs to completion
// (a few hundred milliseconds).
func (p *Passwords) Hash(ctx context.Context, password string) (string, error) {
	if err := p.bound.Acquire(ctx); err != nil {
		return "", fmt.Errorf("crypto: hash password: %w", err)
	}
	defer p.bound.Release()
	return hashPassword(password)
}

// Check reports whether password matches a hash from Hash; a malformed hash does not
// match. It waits for a slot as Hash does, and returns false with ctx's error when ctx
// ends first. The comparison of the final digests is constant-time; the bcrypt work
// dominates the run time.
func (p *Passwords) Check(ctx context.Context, hash, password string) (bool, error) {
	if err := p.bound.Acquire(ctx); err != nil {
		return false, fmt.Errorf("crypto: check password: %w", err)
	}
	defer p.bound.Release()
	return checkPassword(hash, password), nil
}

// DummyCheck runs one bcrypt comparison against a fixed valid hash and throws the answer
// away, under the same bound and wait as Check, so a login for an unknown email costs the
// same time, and queues the same way, as a wrong password: neither tells which emails
// exist. It fails only with ctx's error while waiting for a slot.
func (p *Passwords) DummyCheck(ctx context.Context, password string) error {
	if err := p.bound.Acquire(ctx); err != nil {
		return fmt.Errorf("crypto: check password: %w", err)
	}
	defer p.bound.Release()
	_ = checkPassword(dummyHash(), password)
	return nil
}

func hashPassword(password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword(prehash(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("crypto: hash password: %w", err)
	}
	return string(hash), nil
}

func checkPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), prehash(password)) == nil
}

// dummyHash is a valid cost-12 hash of a random password nobody knows,
// computed on first use (under the caller's slot) so importing the package
// stays cheap.
var dummyHash = sync.OnceValue(func() string {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand since Go 1.24)
	hash, err := hashPassword(string(secret))
	if err != nil {
		// Not reachable with a 44-byte input and a valid cost. This cost-12
		// hash of 32 discarded random bytes keeps the dummy check as slow as
		// a real one all the same.
		return "$2a$12$hYe.lZc.tbomEgZDbweh4.c1Phn3MwYluCK2w8V6bfgEDV3PjrtH2"
	}
	return hash
})
