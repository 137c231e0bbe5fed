package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// recoveryCodeBytes is the entropy of one recovery code: 160 bits, above the
// 128 bits that make a fast hash of the code sound.
const recoveryCodeBytes = 20

// recoveryGroup is how many characters sit between dashes in a shown code.
const recoveryGroup = 4

// recoveryHashPrefix separates the lookup hash from any other hash of a code.
const recoveryHashPrefix = "diary-recovery-code-v1\x00"

// recoveryWrapInfo is the HKDF info string of RecoveryKey.
const recoveryWrapInfo = "diary-recovery-wrap-v1"

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or copied by hand has no look-alike letters.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// NewRecoveryCodes returns n distinct recovery codes, each 160 random bits in
// Crockford base32 grouped by dashes, e.g. "7K3M-Q9XD-...". They are shown to
// the user once; only HashRecoveryCode of each is stored.
func NewRecoveryCodes(n int) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("crypto: new recovery codes: count %d, want at least 1", n)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	raw := make([]byte, recoveryCodeBytes)
	defer clear(raw)
	for len(codes) < n {
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("crypto: new recovery codes: %w", err)
		}
		code := groupCode(crockford.EncodeToString(raw))
		if seen[code] { // 2^-160: kept only so uniqueness never rests on luck
			continue
		}
		seen[code] = true
		codes = append(codes, code)
	}
	return codes, nil
}

func groupCode(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/recoveryGroup)
	for i := 0; i < len(s); i += recoveryGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+recoveryGroup, len(s))])
	}
	return b.String()
}

// NormalizeRecoveryCode returns the canonical form of a code as a user typed
// it: upper case, without spaces or dashes, and with the look-alikes Crockford
// base32 defines mapped back (I and L to 1, O to 0).
func NormalizeRecoveryCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch r = unicode.ToUpper(r); {
		case r == '-' || unicode.IsSpace(r):
			return -1
		case r == 'I' || r == 'L':
			return '1'
		case r == 'O':
			return '0'
		}
		return r
	}, code)
}

// HashRecoveryCode returns the SHA-256 of the normalized code behind a domain
// prefix: the value stored and looked up in the database. A fast hash is sound
// here because a code carries 160 random bits, out of reach of guessing.
func HashRecoveryCode(code string) []byte {
	h := sha256.New()
	h.Write([]byte(recoveryHashPrefix))
	h.Write([]byte(NormalizeRecoveryCode(code)))
	return h.Sum(nil)
}

// RecoveryKey returns the KeySize-byte key that wraps a user's master key
// under one recovery code: HKDF-SHA256 of the normalized code with salt and
// info "diary-recovery-wrap-v1". The salt should come from NewSalt.
func RecoveryKey(code string, salt []byte) ([]byte, error) {
	normalized := NormalizeRecoveryCode(code)
	if normalized == "" {
		return nil, errors.New("crypto: recovery key: empty code")
	}
	if len(salt) < saltSize {
		return nil, fmt.Errorf("crypto: recovery key: salt is %d bytes, want at least %d", len(salt), saltSize)
	}
	key, err := hkdf.Key(sha256.New, []byte(normalized), salt, recoveryWrapInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypto: recovery key: %w", err)
	}
	return key, nil
}
