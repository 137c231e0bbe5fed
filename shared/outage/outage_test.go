package outage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xmojo/diary/shared/outage"
)

// TestErrUnavailableWrapped: an adapter's failure, wrapped with the sentinel and then by
// its callers, is still an outage, keeps its cause for the log, and a plain error is not.
func TestErrUnavailableWrapped(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:6379: connection refused")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", refused, false},
		{"wrapped by the adapter", fmt.Errorf("session: get: %w: %w", outage.ErrUnavailable, refused), true},
		{"then by a caller", fmt.Errorf("auth: logout: %w", fmt.Errorf("session: revoke: %w: %w", outage.ErrUnavailable, refused)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, outage.ErrUnavailable); got != tt.want {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	err := fmt.Errorf("session: get: %w: %w", outage.ErrUnavailable, context.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v lost its cause", err)
	}
}
