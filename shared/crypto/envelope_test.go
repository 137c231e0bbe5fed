package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func mustKey(t testing.TB) []byte {
	t.Helper()
	key, err := NewKey()
	if err != nil {
		t.Fatalf("NewKey() = %v", err)
	}
	return key
}

func TestNewKey(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	if len(a) != KeySize {
		t.Fatalf("len(NewKey()) = %d, want %d", len(a), KeySize)
	}
	if bytes.Equal(a, b) {
		t.Fatalf("NewKey() returned the same key twice")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := mustKey(t)
	tests := []struct {
		name      string
		plaintext []byte
		ad        AD
	}{
		{"empty", nil, AD{}},
		{"short", []byte("dear diary"), AD{"user-1", "entry-1", "entry.body"}},
		{"binary", []byte{0, 1, 2, 0xff, 0}, AD{Owner: "user-1"}},
		{"large", bytes.Repeat([]byte("x"), 1<<20), AD{"u", "r", "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Seal(key, tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal() = %v", err)
			}
			if got, want := len(env), len(tt.plaintext)+Overhead(); got != want {
				t.Errorf("len(Seal()) = %d, want %d", got, want)
			}
			if env[0] != 0x01 {
				t.Errorf("Seal()[0] = %#x, want 0x01", env[0])
			}
			got, err := Open(key, env, tt.ad)
			if err != nil {
				t.Fatalf("Open() = %v, want nil", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open() = %d bytes, want the %d sealed", len(got), len(tt.plaintext))
			}
		})
	}
}

func TestOverhead(t *testing.T) {
	if got, want := Overhead(), 1+24+16; got != want {
		t.Errorf("Overhead() = %d, want %d", got, want)
	}
}

func TestOpenRejects(t *testing.T) {
	key := mustKey(t)
	ad := AD{Owner: "user-1", Record: "entry-7", Purpose: "entry.body"}
	plaintext := []byte("the plaintext of an entry")
	env, err := Seal(key, plaintext, ad)
	if err != nil {
		t.Fatalf("Seal() = %v", err)
	}

	type tc struct {
		name     string
		key      []byte
		envelope []byte
		ad       AD
	}
	var tests []tc
	for i := range env {
		for _, bit := range []byte{0x01, 0x80} {
			flipped := bytes.Clone(env)
			flipped[i] ^= bit
			tests = append(tests, tc{name: fmt.Sprintf("flip byte %d bit %#x", i, bit), key: key, envelope: flipped, ad: ad})
		}
	}
	for n := range env {
		tests = append(tests, tc{name: fmt.Sprintf("truncated to %d", n), key: key, envelope: env[:n], ad: ad})
	}
	for _, v := range []byte{0x00, 0x02, 0xff} {
		other := bytes.Clone(env)
		other[0] = v
		tests = append(tests, tc{name: fmt.Sprintf("version %#x", v), key: key, envelope: other, ad: ad})
	}
	tests = append(tests,
		tc{name: "wrong key", key: mustKey(t), envelope: env, ad: ad},
		tc{name: "other owner", key: key, envelope: env, ad: AD{"user-2", ad.Record, ad.Purpose}},
		tc{name: "other record", key: key, envelope: env, ad: AD{ad.Owner, "entry-8", ad.Purpose}},
		tc{name: "other purpose", key: key, envelope: env, ad: AD{ad.Owner, ad.Record, "entry.title"}},
		tc{name: "empty ad", key: key, envelope: env, ad: AD{}},
		tc{name: "appended byte", key: key, envelope: append(bytes.Clone(env), 0), ad: ad},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(tt.key, tt.envelope, tt.ad)
			if !errors.Is(err, ErrDecrypt) || got != nil {
				t.Errorf("Open(%q) = %q, %v, want nil, %v", tt.envelope, got, err, ErrDecrypt)
			}
		})
	}
}

// TestADIsUnambiguous checks that moving bytes between fields changes the
// associated data, which plain concatenation would not.
func TestADIsUnambiguous(t *testing.T) {
	key := mustKey(t)
	tests := []struct{ seal, open AD }{
		{AD{"a", "bc", "d"}, AD{"ab", "c", "d"}},
		{AD{"a", "", "b"}, AD{"", "a", "b"}},
		{AD{"", "", "ab"}, AD{"a", "b", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.seal.Owner+"|"+tt.seal.Record+"|"+tt.seal.Purpose, func(t *testing.T) {
			env, err := Seal(key, []byte("x"), tt.seal)
			if err != nil {
				t.Fatalf("Seal() = %v", err)
			}
			if _, err := Open(key, env, tt.open); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Open(%+v) of a box sealed with %+v = %v, want %v", tt.open, tt.seal, err, ErrDecrypt)
			}
		})
	}
}

func TestSealNoncesDiffer(t *testing.T) {
	key := mustKey(t)
	ad := AD{"u", "r", "p"}
	a, err := Seal(key, []byte("same"), ad)
	if err != nil {
		t.Fatalf("Seal() = %v", err)
	}
	b, err := Seal(key, []byte("same"), ad)
	if err != nil {
		t.Fatalf("Seal() = %v", err)
	}
	if bytes.Equal(a[1:25], b[1:25]) {
		t.Errorf("two Seal() calls used the same nonce %x", a[1:25])
	}
	if bytes.Equal(a, b) {
		t.Errorf("two Seal() calls gave the same envelope")
	}
}

func TestBadKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			key := make([]byte, n)
			if _, err := Seal(key, []byte("x"), AD{}); err == nil {
				t.Errorf("Seal(%d-byte key) = nil error, want an error", n)
			}
			if _, err := Open(key, make([]byte, 64), AD{}); err == nil || errors.Is(err, ErrDecrypt) {
				t.Errorf("Open(%d-byte key) = %v, want a key size error", n, err)
			}
		})
	}
}

func BenchmarkSeal1KiB(b *testing.B) {
	key := mustKey(b)
	msg := make([]byte, 1024)
	ad := AD{"user-1", "entry-1", "entry.body"}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Seal(key, msg, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen1KiB(b *testing.B) {
	key := mustKey(b)
	ad := AD{"user-1", "entry-1", "entry.body"}
	env, err := Seal(key, make([]byte, 1024), ad)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := Open(key, env, ad); err != nil {
			b.Fatal(err)
		}
	}
}
