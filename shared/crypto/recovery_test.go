package crypto

import (
	"bytes"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
)

func TestNewRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(10)
	if err != nil {
		t.Fatalf("NewRecoveryCodes(10) = %v", err)
	}
	if len(codes) != 10 {
		t.Fatalf("len(NewRecoveryCodes(10)) = %d, want 10", len(codes))
	}
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$`)
	seen := map[string]bool{}
	for _, code := range codes {
		if !shape.MatchString(code) {
			t.Errorf("code %q does not look like XXXX-XXXX-...-XXXX in Crockford base32", code)
		}
		if seen[code] {
			t.Errorf("code %q returned twice", code)
		}
		seen[code] = true
		raw, err := crockford.DecodeString(NormalizeRecoveryCode(code))
		if err != nil {
			t.Errorf("decode(%q) = %v", code, err)
		}
		if bits := 8 * len(raw); bits < 128 {
			t.Errorf("code %q carries %d bits, want at least 128", code, bits)
		}
	}
}

func TestNewRecoveryCodesRejectsCount(t *testing.T) {
	for _, n := range []int{0, -1} {
		if codes, err := NewRecoveryCodes(n); err == nil {
			t.Errorf("NewRecoveryCodes(%d) = %q, nil, want an error", n, codes)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	const want = "7K3MQ9XD0123ABCD"
	tests := []string{
		"7K3M-Q9XD-0123-ABCD",
		"7k3m-q9xd-0123-abcd",
		"7K3MQ9XD0123ABCD",
		" 7K3M Q9XD\t0123 ABCD\n",
		"7K3M--Q9XD-O123-ABCD", // O typed for 0
		"7K3M-Q9XD-0I23-ABCD",  // I typed for 1
		"7K3M-Q9XD-0l23-ABCD",  // l typed for 1
	}
	for _, in := range tests {
		if got := NormalizeRecoveryCode(in); got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	codes, err := NewRecoveryCodes(2)
	if err != nil {
		t.Fatalf("NewRecoveryCodes(2) = %v", err)
	}
	code := codes[0]
	h := HashRecoveryCode(code)
	if len(h) != 32 {
		t.Fatalf("len(HashRecoveryCode()) = %d, want 32", len(h))
	}
	for _, variant := range []string{code, strings.ToLower(code), strings.ReplaceAll(code, "-", ""), strings.ReplaceAll(code, "-", " ")} {
		if got := HashRecoveryCode(variant); !bytes.Equal(got, h) {
			t.Errorf("HashRecoveryCode(%q) = %x, want %x", variant, got, h)
		}
	}
	if other := HashRecoveryCode(codes[1]); bytes.Equal(other, h) {
		t.Errorf("HashRecoveryCode(%q) = HashRecoveryCode(%q), want them to differ", codes[1], code)
	}
	// Pinned, because stored lookup values must never change; computed
	// independently as sha256(b"diary-recovery-code-v1\x00" + b"00000000").
	const pinned = "1ffcdb838a84a18db2a85a23a60000e8bd078d9d226883548f03e8d2198ef2c6"
	if got := hex.EncodeToString(HashRecoveryCode("oooo-0000")); got != pinned {
		t.Errorf("HashRecoveryCode(%q) = %s, want %s", "oooo-0000", got, pinned)
	}
}

func TestRecoveryKey(t *testing.T) {
	codes, err := NewRecoveryCodes(2)
	if err != nil {
		t.Fatalf("NewRecoveryCodes(2) = %v", err)
	}
	salt, salt2 := mustSalt(t), mustSalt(t)
	key, err := RecoveryKey(codes[0], salt)
	if err != nil {
		t.Fatalf("RecoveryKey() = %v", err)
	}
	if len(key) != KeySize {
		t.Fatalf("len(RecoveryKey()) = %d, want %d", len(key), KeySize)
	}
	// Pinned against Python cryptography's HKDF(SHA256, length=32,
	// salt=b"somesaltsomesalt", info=b"diary-recovery-wrap-v1") of b"ABCD1234".
	const pinned = "a52bede4f669b683ddcba01bde63a4bafd7202901e0b819620fe9df1c22ab1c0"
	if got, err := RecoveryKey("abcd-1234", []byte("somesaltsomesalt")); err != nil || hex.EncodeToString(got) != pinned {
		t.Errorf("RecoveryKey(%q, %q) = %x, %v, want %s, nil", "abcd-1234", "somesaltsomesalt", got, err, pinned)
	}
	if bytes.Equal(key, HashRecoveryCode(codes[0])) {
		t.Errorf("RecoveryKey() equals the stored hash of the code")
	}
	tests := []struct {
		name string
		code string
		salt []byte
		same bool
	}{
		{"same", codes[0], salt, true},
		{"typed lowercase without dashes", strings.ToLower(strings.ReplaceAll(codes[0], "-", "")), salt, true},
		{"other salt", codes[0], salt2, false},
		{"other code", codes[1], salt, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RecoveryKey(tt.code, tt.salt)
			if err != nil {
				t.Fatalf("RecoveryKey() = %v", err)
			}
			if eq := bytes.Equal(got, key); eq != tt.same {
				t.Errorf("RecoveryKey(%q, %x) equal to first key = %v, want %v", tt.code, tt.salt, eq, tt.same)
			}
		})
	}
}

func TestRecoveryKeyRejects(t *testing.T) {
	tests := []struct {
		name string
		code string
		salt []byte
	}{
		{"empty code", "", make([]byte, 16)},
		{"only dashes", "- -", make([]byte, 16)},
		{"no salt", "ABCD-EFGH", nil},
		{"short salt", "ABCD-EFGH", make([]byte, 8)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if key, err := RecoveryKey(tt.code, tt.salt); err == nil {
				t.Errorf("RecoveryKey(%q, %x) = %x, nil, want an error", tt.code, tt.salt, key)
			}
		})
	}
}
