package crypto

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/outage"
)

func mustSalt(t testing.TB) []byte {
	t.Helper()
	salt, err := NewSalt()
	if err != nil {
		t.Fatalf("NewSalt() = %v", err)
	}
	return salt
}

func TestNewSalt(t *testing.T) {
	a, b := mustSalt(t), mustSalt(t)
	if len(a) != 16 {
		t.Errorf("len(NewSalt()) = %d, want 16", len(a))
	}
	if bytes.Equal(a, b) {
		t.Errorf("NewSalt() returned the same salt twice")
	}
}

func TestNewKDFBound(t *testing.T) {
	tests := []struct{ in, want int }{{-1, 2}, {0, 2}, {1, 1}, {4, 4}}
	for _, tt := range tests {
		if got := cap(NewKDF(tt.in).bound.sem); got != tt.want {
			t.Errorf("NewKDF(%d) bound = %d, want %d", tt.in, got, tt.want)
		}
	}
	var zero KDF
	zero.init(0)
	if got := cap(zero.bound.sem); got != 2 {
		t.Errorf("zero KDF bound = %d, want 2", got)
	}
}

func TestDerive(t *testing.T) {
	ctx := t.Context()
	kdf := NewKDF(0)
	salt1, salt2 := mustSalt(t), mustSalt(t)
	password := []byte("correct horse battery staple")

	a, err := kdf.Derive(ctx, password, salt1)
	if err != nil {
		t.Fatalf("Derive() = %v", err)
	}
	if len(a) != KeySize {
		t.Fatalf("len(Derive()) = %d, want %d", len(a), KeySize)
	}
	tests := []struct {
		name     string
		password []byte
		salt     []byte
		same     bool
	}{
		{"same password and salt", password, salt1, true},
		{"other salt", password, salt2, false},
		{"other password", []byte("correct horse battery stapler"), salt1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := kdf.Derive(ctx, tt.password, tt.salt)
			if err != nil {
				t.Fatalf("Derive() = %v", err)
			}
			if got := bytes.Equal(a, b); got != tt.same {
				t.Errorf("Derive(%q, %x) equal to first key = %v, want %v", tt.password, tt.salt, got, tt.same)
			}
		})
	}
}

// TestDeriveKnownAnswer pins the parameters: a change to time, memory,
// lanes or key length would lock every user out of their wrapped key. The
// value was checked against OpenSSL's Argon2id (Python cryptography 48:
// Argon2id(salt, length=32, iterations=2, lanes=1, memory_cost=65536)).
func TestDeriveKnownAnswer(t *testing.T) {
	got, err := NewKDF(1).Derive(t.Context(), []byte("password"), []byte("somesaltsomesalt"))
	if err != nil {
		t.Fatalf("Derive() = %v", err)
	}
	const want = "fc33b78139231d34b71626bd6245c1d72efa190ad605c3d8166a72adcedfa2c2"
	if hexs := hex.EncodeToString(got); hexs != want {
		t.Errorf("Derive(%q, %q) = %s, want %s", "password", "somesaltsomesalt", hexs, want)
	}
}

func TestDeriveRejectsShortSalt(t *testing.T) {
	for _, n := range []int{0, 8, 15} {
		if _, err := NewKDF(0).Derive(t.Context(), []byte("pw"), make([]byte, n)); err == nil {
			t.Errorf("Derive(salt of %d bytes) = nil error, want an error", n)
		}
	}
}

func TestDeriveRespectsContextWhenFull(t *testing.T) {
	kdf := NewKDF(2)
	for range cap(kdf.bound.sem) { // every slot taken, as by two long derivations
		kdf.bound.sem <- struct{}{}
	}
	salt := mustSalt(t)

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	later, cancelLater := context.WithCancel(t.Context())
	time.AfterFunc(30*time.Millisecond, cancelLater)

	// A deadline is the bound being full, an outage (503 in HTTP); a cancellation is the
	// caller giving up.
	tests := []struct {
		name   string
		ctx    context.Context
		want   error
		outage bool
	}{
		{"already canceled", canceled, context.Canceled, false},
		{"deadline while waiting", short, context.DeadlineExceeded, true},
		{"canceled while waiting", later, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			key, err := kdf.Derive(tt.ctx, []byte("pw"), salt)
			if !errors.Is(err, tt.want) || key != nil {
				t.Errorf("Derive() = %x, %v, want nil, %v", key, err, tt.want)
			}
			if got := errors.Is(err, outage.ErrUnavailable); got != tt.outage {
				t.Errorf("Derive() = %v: outage.ErrUnavailable in it = %v, want %v", err, got, tt.outage)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Derive() returned after %v, want soon after ctx ended", d)
			}
		})
	}
	if got := len(kdf.bound.sem); got != cap(kdf.bound.sem) {
		t.Errorf("slots taken after canceled waits = %d, want %d (no slot leaked or freed)", got, cap(kdf.bound.sem))
	}
}

// TestDeriveAlreadyCanceledWithFreeSlot checks an ended ctx never starts a
// 64 MiB derivation even when a slot is free.
func TestDeriveAlreadyCanceledWithFreeSlot(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NewKDF(0).Derive(ctx, []byte("pw"), mustSalt(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Derive() = %v, want %v", err, context.Canceled)
	}
}

func BenchmarkArgon2idDerive(b *testing.B) {
	kdf := NewKDF(1)
	salt := mustSalt(b)
	for b.Loop() {
		if _, err := kdf.Derive(b.Context(), []byte("correct horse battery staple"), salt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConcurrentDerive50 sends 50 logins at once through a KDF with the
// default bound and reports the peak heap in use and the peak memory obtained
// from the OS, sampled every millisecond. Unbounded, 50 derivations would
// hold 50 × 64 MiB = 3.2 GiB.
func BenchmarkConcurrentDerive50(b *testing.B) {
	const logins = 50
	kdf := NewKDF(0)
	salt := mustSalt(b)
	runtime.GC()

	var peakHeap, peakSys uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			peakSys = max(peakSys, ms.Sys)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()

	for b.Loop() {
		var wg sync.WaitGroup
		for range logins {
			wg.Go(func() {
				if _, err := kdf.Derive(b.Context(), []byte("correct horse battery staple"), salt); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	close(done)
	<-sampled
	b.ReportMetric(float64(peakHeap)/1e6, "peakMB")
	b.ReportMetric(float64(peakSys)/1e6, "peakSysMB")
}
