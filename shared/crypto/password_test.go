package crypto

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/xmojo/diary/shared/outage"
)

// storedHash is one real hash shared by the tests below: a cost-12 hash
// takes seconds under -race.
var storedHash = sync.OnceValues(func() (string, error) {
	return NewPasswords(nil).Hash(context.Background(), "correct horse battery staple")
})

// mustCheck is Passwords.Check that fails the test on a wait error.
func mustCheck(t testing.TB, p *Passwords, hash, password string) bool {
	t.Helper()
	ok, err := p.Check(t.Context(), hash, password)
	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	return ok
}

func TestHashCost(t *testing.T) {
	t.Parallel()
	hash, err := storedHash()
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || cost != 12 {
		t.Errorf("bcrypt.Cost(Hash()) = %d, %v, want 12, nil", cost, err)
	}
}

// TestCheckPassword hashes each stored password once and tries several
// attempts against it.
func TestCheckPassword(t *testing.T) {
	long := strings.Repeat("a", 100)
	type attempt struct {
		password string
		want     bool
	}
	tests := []struct {
		name     string
		stored   string
		attempts []attempt
	}{
		{"100 bytes", long, []attempt{ // bcrypt alone reads only the first 72 bytes
			{long, true},
			{strings.Repeat("a", 99) + "b", false},
			{strings.Repeat("a", 72) + "b" + strings.Repeat("a", 27), false},
			{long[:72], false},
			{"", false},
		}},
		{"NUL bytes", "abc\x00def", []attempt{ // NUL ends the input of C bcrypts
			{"abc\x00def", true},
			{"abc\x00xyz", false},
			{"abc", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewPasswords(nil)
			hash, err := p.Hash(t.Context(), tt.stored)
			if err != nil {
				t.Fatalf("Hash() = %v", err)
			}
			for _, a := range tt.attempts {
				if got := mustCheck(t, p, hash, a.password); got != a.want {
					t.Errorf("Check(hash of %q, %q) = %v, want %v", tt.stored, a.password, got, a.want)
				}
			}
		})
	}
}

func TestCheckPasswordMalformedHash(t *testing.T) {
	for _, hash := range []string{"", "not a hash", "$2a$12$short", "$2a$99$" + strings.Repeat("a", 53)} {
		if mustCheck(t, NewPasswords(nil), hash, "pw") {
			t.Errorf("Check(%q, %q) = true, want false", hash, "pw")
		}
	}
}

// TestDummyCheck checks an unknown-email login does bcrypt work like a
// wrong-password login, against a valid cost-12 hash computed once. The time
// check is a floor, not a ratio: a busy machine only makes bcrypt slower, cost
// 12 takes hundreds of milliseconds, and a skipped compare takes microseconds.
func TestDummyCheck(t *testing.T) {
	t.Parallel()
	cost, err := bcrypt.Cost([]byte(dummyHash()))
	if err != nil || cost != 12 {
		t.Errorf("bcrypt.Cost(dummyHash()) = %d, %v, want 12, nil", cost, err)
	}
	if dummyHash() != dummyHash() {
		t.Errorf("dummyHash() changed between calls, want it computed once")
	}
	hash, err := storedHash()
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}

	p := NewPasswords(nil)
	start := time.Now()
	mustCheck(t, p, hash, "wrong password")
	real := time.Since(start)

	start = time.Now()
	if err := p.DummyCheck(t.Context(), "wrong password"); err != nil {
		t.Fatalf("DummyCheck() = %v", err)
	}
	dummy := time.Since(start)

	if dummy < 10*time.Millisecond {
		t.Errorf("DummyCheck took %v, a real check %v; want bcrypt's cost", dummy, real)
	}
}

func BenchmarkBcryptHash(b *testing.B) {
	p := NewPasswords(nil)
	for b.Loop() {
		if _, err := p.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBcryptCheck(b *testing.B) {
	p := NewPasswords(nil)
	hash, err := p.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := p.Check(b.Context(), hash, "correct horse battery staple"); !ok || err != nil {
			b.Fatalf("Check() = %v, %v, want true, nil", ok, err)
		}
	}
}

// TestPasswordsBound checks that with every slot taken, Hash, Check and DummyCheck wait
// only as long as their ctx allows and then fail with its error, without running bcrypt
// or taking or freeing a slot; and that they run again once a slot is free.
func TestPasswordsBound(t *testing.T) {
	hash, err := storedHash()
	if err != nil {
		t.Fatalf("Hash() = %v", err)
	}
	bound := NewBound(1)
	p := NewPasswords(bound)
	if err := bound.Acquire(t.Context()); err != nil {
		t.Fatalf("Acquire() = %v", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func(context.Context) error{
		"Hash": func(ctx context.Context) error {
			h, err := p.Hash(ctx, "pw")
			if h != "" {
				t.Errorf("Hash() while full = %q, want no hash", h)
			}
			return err
		},
		"Check": func(ctx context.Context) error {
			ok, err := p.Check(ctx, hash, "correct horse battery staple")
			if ok {
				t.Errorf("Check() while full = true, want false")
			}
			return err
		},
		"DummyCheck": func(ctx context.Context) error { return p.DummyCheck(ctx, "pw") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancelShort()
			// Out of time with the bound full is an outage (503); a caller that gave up is not.
			if err := call(short); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, outage.ErrUnavailable) {
				t.Errorf("%s() with the bound full = %v, want %v and outage.ErrUnavailable", name, err, context.DeadlineExceeded)
			}
			if err := call(canceled); !errors.Is(err, context.Canceled) || errors.Is(err, outage.ErrUnavailable) {
				t.Errorf("%s() with an ended ctx = %v, want %v and no outage", name, err, context.Canceled)
			}
		})
	}
	if got := len(bound.sem); got != 1 {
		t.Errorf("slots taken after the refused calls = %d, want 1 (the one held)", got)
	}
	bound.Release()
	if !mustCheck(t, p, hash, "correct horse battery staple") {
		t.Errorf("Check(right password) once a slot is free = false, want true")
	}
	if got := len(bound.sem); got != 0 {
		t.Errorf("slots taken after Check returned = %d, want 0", got)
	}
}
