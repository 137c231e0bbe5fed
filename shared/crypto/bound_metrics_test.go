package crypto

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/outage"
)

// TestBoundMetrics: a labelled bound reports its slots, those in use, and the waits that
// ran out of time; a caller that cancels is not a timeout.
func TestBoundMetrics(t *testing.T) {
	b := NewBound(1)
	b.label("metrics_test")
	inUse := func() float64 { return testutil.ToFloat64(metrics.BoundInUse.WithLabelValues("metrics_test")) }
	timeouts := func() float64 { return testutil.ToFloat64(metrics.BoundTimeouts.WithLabelValues("metrics_test")) }
	if got := testutil.ToFloat64(metrics.BoundSlots.WithLabelValues("metrics_test")); got != 1 {
		t.Errorf("slots = %v, want 1", got)
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if inUse() != 1 {
		t.Errorf("in use after Acquire = %v, want 1", inUse())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx); !errors.Is(err, outage.ErrUnavailable) {
		t.Fatalf("Acquire on a full bound = %v, want outage.ErrUnavailable", err)
	}
	if timeouts() != 1 {
		t.Errorf("timeouts = %v, want 1", timeouts())
	}
	canceled, stop := context.WithCancel(context.Background())
	stop()
	_ = b.Acquire(canceled)
	if timeouts() != 1 {
		t.Errorf("timeouts after a canceled wait = %v, want still 1", timeouts())
	}
	b.Release()
	if inUse() != 0 {
		t.Errorf("in use after Release = %v, want 0", inUse())
	}
	if NewKDF(3).bound.name != "argon2id" || NewPasswords(nil).bound.name != "bcrypt" {
		t.Error("the KDF and Passwords bounds are not labelled argon2id and bcrypt")
	}
}
