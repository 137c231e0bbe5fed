package crypto

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/outage"
)

// defaultMaxConcurrent is the bound NewBound uses when given none: two at once suits the
// small pods the functions run in (two cores; 2 × 64 MiB for Argon2id).
const defaultMaxConcurrent = 2

// Bound caps how many costly computations (a bcrypt hash or check, an Argon2id
// derivation) run at once, so a storm of logins queues for a slot instead of exhausting
// the CPU or memory. KDF and Passwords each hold one; it is safe for concurrent use.
type Bound struct {
	sem chan struct{}
	// name labels the bound's metrics (metrics.BoundInUse ...); set once by its user
	// (NewPasswords, NewKDF) before any Acquire.
	name string
}

// NewBound returns a Bound of maxConcurrent slots; maxConcurrent <= 0 means 2.
func NewBound(maxConcurrent int) *Bound {
	if maxConcurrent <= 0 {
		maxConcurrent = defaultMaxConcurrent
	}
	return &Bound{sem: make(chan struct{}, maxConcurrent)}
}

// Acquire takes a slot, waiting for one to free up; it gives up with ctx's error if ctx
// ends first (see gaveUp). An already-ended ctx never takes a slot, even a free one, so no
// costly work starts for a request that is over. Each successful Acquire needs one
// Release.
func (b *Bound) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return gaveUp(err)
	}
	select {
	case b.sem <- struct{}{}:
		if b.name != "" {
			metrics.BoundInUse.WithLabelValues(b.name).Inc()
		}
		return nil
	case <-ctx.Done():
		if b.name != "" && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			metrics.BoundTimeouts.WithLabelValues(b.name).Inc()
		}
		return gaveUp(ctx.Err())
	}
}

// label names the bound in the metrics (its slots, those in use, the waits that ran out
// of time): "argon2id" or "bcrypt".
func (b *Bound) label(name string) {
	b.name = name
	metrics.BoundSlots.WithLabelValues(name).Set(float64(cap(b.sem)))
	metrics.BoundInUse.WithLabelValues(name).Add(0)
	metrics.BoundTimeouts.WithLabelValues(name).Add(0)
}

// gaveUp is the error of an Acquire that got no slot because ctx ended. A deadline means
// the time given ran out before a slot came free: the bound is full and a retry may
// succeed, so it comes with outage.ErrUnavailable (httpapi.Fail answers 503 with
// Retry-After). A cancellation is the caller giving up, no outage.
func gaveUp(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("waiting for a slot: %w: %w", outage.ErrUnavailable, err)
	}
	return fmt.Errorf("waiting for a slot: %w", err)
}

// Release gives back a slot taken by Acquire.
func (b *Bound) Release() {
	<-b.sem
	if b.name != "" {
		metrics.BoundInUse.WithLabelValues(b.name).Dec()
	}
}
