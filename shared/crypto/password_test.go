package crypto

import (
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// storedHash is one real hash shared by the tests below: a cost-12 hash
// takes seconds under -race.
var storedHash = sync.OnceValues(func() (string, error) {
	return HashPassword("correct horse battery staple")
})

func TestHashPasswordCost(t *testing.T) {
	t.Parallel()
	hash, err := storedHash()
	if err != nil {
		t.Fatalf("HashPassword() = %v", err)
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || cost != 12 {
		t.Errorf("bcrypt.Cost(HashPassword()) = %d, %v, want 12, nil", cost, err)
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
			hash, err := HashPassword(tt.stored)
			if err != nil {
				t.Fatalf("HashPassword() = %v", err)
			}
			for _, a := range tt.attempts {
				if got := CheckPassword(hash, a.password); got != a.want {
					t.Errorf("CheckPassword(hash of %q, %q) = %v, want %v", tt.stored, a.password, got, a.want)
				}
			}
		})
	}
}

func TestCheckPasswordMalformedHash(t *testing.T) {
	for _, hash := range []string{"", "not a hash", "$2a$12$short", "$2a$99$" + strings.Repeat("a", 53)} {
		if CheckPassword(hash, "pw") {
			t.Errorf("CheckPassword(%q, %q) = true, want false", hash, "pw")
		}
	}
}

// TestDummyCheckPassword checks an unknown-email login does bcrypt work like a
// wrong-password login, against a valid cost-12 hash computed once. The time
// check is a floor, not a ratio: a busy machine only makes bcrypt slower, cost
// 12 takes hundreds of milliseconds, and a skipped compare takes microseconds.
func TestDummyCheckPassword(t *testing.T) {
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
		t.Fatalf("HashPassword() = %v", err)
	}

	start := time.Now()
	CheckPassword(hash, "wrong password")
	real := time.Since(start)

	start = time.Now()
	DummyCheckPassword("wrong password")
	dummy := time.Since(start)

	if dummy < 10*time.Millisecond {
		t.Errorf("DummyCheckPassword took %v, a real check %v; want bcrypt's cost", dummy, real)
	}
}

func BenchmarkBcryptHash(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBcryptCheck(b *testing.B) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(hash, "correct horse battery staple") {
			b.Fatal("CheckPassword() = false, want true")
		}
	}
}
