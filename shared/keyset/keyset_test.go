package keyset

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	p := Position{At: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC), ID: "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"}
	got, ok := Decode(p.Encode("l1"), "l1")
	want := Position{At: p.At.Truncate(time.Microsecond), ID: p.ID}
	if !ok || !got.At.Equal(want.At) || got.ID != want.ID {
		t.Fatalf("Decode(Encode(%v)) = %v, %v, want %v", p, got, ok, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := Position{At: time.Unix(1700000000, 0), ID: "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"}.Encode("l1")
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := map[string]string{
		"empty":          "",
		"other kind":     Position{At: time.Unix(1, 0), ID: "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"}.Encode("j1"),
		"not base64":     "!!!",
		"padded base64":  valid + "=",
		"too long":       strings.Repeat("A", 300),
		"bad time":       enc("l1:soon:0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"),
		"padded time":    enc("l1:+1700000000:0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"),
		"uppercase uuid": enc("l1:1:0B5D3F4E-7D0A-4F2A-9F4E-1F0C1A2B3C4D"),
		"not a uuid":     enc("l1:1:x"),
		"extra field":    enc("l1:1:0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d:x"),
	}
	for name, s := range tests {
		if p, ok := Decode(s, "l1"); ok {
			t.Errorf("Decode(%s %q) = %v, want rejected", name, s, p)
		}
	}
	if _, ok := Decode(valid, "l1"); !ok {
		t.Fatalf("Decode(valid) rejected")
	}
}
