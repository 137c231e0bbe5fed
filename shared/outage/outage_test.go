package outage

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestMarkAndIs(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:6379: connection refused")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unmarked", refused, false},
		{"marked", Mark(refused), true},
		{"marked, then wrapped", fmt.Errorf("auth: logout: %w", Mark(refused)), true},
		{"wrapped, then marked", Mark(fmt.Errorf("session: get: %w", refused)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Is(tt.err); got != tt.want {
				t.Errorf("Is(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if Mark(nil) != nil {
		t.Errorf("Mark(nil) = %v, want nil", Mark(nil))
	}
	marked := Mark(fmt.Errorf("session: get: %w", context.DeadlineExceeded))
	if !errors.Is(marked, context.DeadlineExceeded) || marked.Error() != "session: get: context deadline exceeded" {
		t.Errorf("Mark() = %q, want the same message with the cause still in the chain", marked)
	}
}
