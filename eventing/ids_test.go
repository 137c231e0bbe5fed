package eventing_test

import (
	"testing"

	"github.com/xmojo/diary/eventing"
)

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", false},
		{"urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", false},
		{"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}", false},
		{"0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", false},
		{"", false},
		{"user-1", false},
	} {
		if got := eventing.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
