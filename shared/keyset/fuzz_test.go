package keyset_test

import (
	"testing"
	"time"

	"github.com/xmojo/diary/shared/keyset"
)

// FuzzDecode feeds Decode what a client can put in ?cursor=. A cursor it accepts has one
// spelling: encoding the position it read gives back the same string, so no two cursors
// name one position and nothing a client adds survives decoding.
func FuzzDecode(f *testing.F) {
	f.Add(keyset.Position{At: time.UnixMicro(1_700_000_000_123_456), ID: "0b5f6e0e-8f5e-4a52-9d3b-6c1f1e2a3b4c"}.Encode("l1"))
	f.Add(keyset.Position{At: time.UnixMicro(-1), ID: "00000000-0000-0000-0000-000000000000"}.Encode("l1"))
	f.Add(keyset.Position{At: time.UnixMicro(1), ID: "0b5f6e0e-8f5e-4a52-9d3b-6c1f1e2a3b4c"}.Encode("m1"))
	f.Add("")
	f.Add("bDE6MTcwMDAwMDAw\rMDEyMzQ1NjowYjVmNmUwZS04ZjVlLTRhNTItOWQzYi02YzFmMWUyYTNiNGM")
	f.Add("bDE6MTcwMDAwMDAwMDEyMzQ1NjowYjVm")
	f.Add("bDE6KzE6MGI1ZjZlMGUtOGY1ZS00YTUyLTlkM2ItNmMxZjFlMmEzYjRj")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := keyset.Decode(s, "l1")
		if !ok {
			return
		}
		if again := p.Encode("l1"); again != s {
			t.Fatalf("Decode(%q) = %+v, which encodes as %q: a second spelling", s, p, again)
		}
		if p.At.Location() != time.UTC {
			t.Fatalf("Decode(%q) time in %v, want UTC", s, p.At.Location())
		}
	})
}
