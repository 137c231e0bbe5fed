package crypto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/xmojo/diary/shared/outage"
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

// defaultMaxConcurrent is how many derivations run at once when NewKDF is
// given no bound: 2 × 64 MiB keeps a login storm within a small pod's memory.
const defaultMaxConcurrent = 2

// KDF derives keys from passwords with Argon2id (2 passes, 64 MiB, 1 lane,
// 32-byte key) behind a semaphore, so a login storm queues instead of
// allocating 64 MiB per request and exhausting memory. Create one per process
// with NewKDF and share it; it is safe for concurrent use. The zero value
// works and uses the default bound.
type KDF struct {
	once sync.Once
	sem  chan struct{}
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
		if maxConcurrent <= 0 {
			maxConcurrent = defaultMaxConcurrent
		}
		k.sem = make(chan struct{}, maxConcurrent)
	})
}

// Derive returns the KeySize-byte Argon2id key for password and salt. It
// waits for a free slot and gives up with ctx's error if ctx ends first (see
// gaveUp); once started, a derivation runs to completion (about a tenth of a
// second).
func (k *KDF) Derive(ctx context.Context, password, salt []byte) ([]byte, error) {
	if len(salt) < saltSize {
		return nil, fmt.Errorf("crypto: derive: salt is %d bytes, want at least %d", len(salt), saltSize)
	}
	k.init(0)
	// Checked first so an already-ended ctx never starts work, even when a
	// slot happens to be free.
	if err := ctx.Err(); err != nil {
		return nil, gaveUp(err)
	}
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, gaveUp(ctx.Err())
	}
	defer func() { <-k.sem }()
	return argon2.IDKey(password, salt, argonTime, argonMemory, argonThreads, KeySize), nil
}

// gaveUp is the error of a derivation that never started because ctx ended. A
// deadline means the time given ran out before a slot came free: the bound is
// full and a retry may succeed, so it comes with outage.ErrUnavailable
// (httpapi.Fail answers 503). A cancellation is the caller giving up, no outage.
func gaveUp(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("crypto: derive: waiting for a slot: %w: %w", outage.ErrUnavailable, err)
	}
	return fmt.Errorf("crypto: derive: %w", err)
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
