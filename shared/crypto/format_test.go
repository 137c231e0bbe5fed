package crypto

import (
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// The wire formats are stored for years and read by other code (the web
// client opens E2E data), so these tests rebuild them by hand from their
// description rather than through the package's own helpers.

func TestEnvelopeFormat(t *testing.T) {
	key := mustKey(t)
	ad := AD{Owner: "user-1", Record: "entry-7", Purpose: "entry.body"}
	env, err := Seal(key, []byte("dear diary"), ad)
	if err != nil {
		t.Fatalf("Seal() = %v", err)
	}
	// version || u32be len || owner || u32be len || record || u32be len || purpose
	wantAD := []byte("\x01" +
		"\x00\x00\x00\x06user-1" +
		"\x00\x00\x00\x07entry-7" +
		"\x00\x00\x00\x0aentry.body")
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.Open(nil, env[1:25], env[25:], wantAD)
	if err != nil || string(got) != "dear diary" {
		t.Errorf("XChaCha20-Poly1305 Open(envelope[25:], nonce envelope[1:25], hand-built AD) = %q, %v, want %q, nil", got, err, "dear diary")
	}
}
