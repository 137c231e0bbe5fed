package crypto

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters. They are baked into every key wrapped under a
// password, so changing one needs a new wrap version, not an edit here.
const (
	argonTime    = 2
	argonMemory  = 64 * 1024 // KiB, i.e. 64 MiB per derivation
	argonThreads = 1         // one core per derivation; the KDF bound sets how many run at once
)

// saltSize is the length of salts from NewSalt and the least Derive and
// RecoveryKey accept.
const saltSize = 16

// KDF derives keys from passwords with Argon2id (2 passes, 64 MiB, 1 lane,
// 32-byte key) behind a semaphore, so a login storm queues instead of
// allocating 64 MiB per request and exhausting memory. Create one per process
// with NewKDF and share it; it is safe for concurrent use. The zero value
// works and uses the default bound.
type KDF struct {
	once  sync.Once
	bound *Bound
}

// NewKDF returns a KDF that runs at most maxConcurrent derivations at a time;
// maxConcurrent <= 0 means 2.
func NewKDF(maxConcurrent int) *KDF {
	k := &KDF{}
	k.init(maxConcurrent)
	return k
}

func (k *KDF) init(maxConcurrent int) {
	k.once.Do(func() {
		k.bound = NewBound(maxConcurrent)
		k.bound.label("argon2id")
	})
}

// Derive returns the KeySize-byte Argon2id key for password and salt. It
// waits for a free slot and gives up with ctx's error if ctx ends first; once
// started, a derivation runs to completion (about a tenth of a second).
func (k *KDF) Derive(ctx context.Context, password, salt []byte) ([]byte, error) {
	if len(salt) < saltSize {
		return nil, fmt.Errorf("crypto: derive: salt is %d bytes, want at least %d", len(salt), saltSize)
	}
	k.init(0)
	if err := k.bound.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("crypto: derive: %w", err)
	}
	defer k.bound.Release()
	return argon2.IDKey(password, salt, argonTime, argonMemory, argonThreads, KeySize), nil
}

// NewSalt returns 16 random bytes, a fresh per-user salt for Derive or
// RecoveryKey.
func NewSalt() ([]byte, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("crypto: new salt: %w", err)
	}
	return salt, nil
}
