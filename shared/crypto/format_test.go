package crypto

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	xhkdf "golang.org/x/crypto/hkdf"
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

func TestSealedBoxFormat(t *testing.T) {
	pub, priv := mustX25519(t)
	ad := AD{Owner: "user-1", Record: "import-9", Purpose: "facebook.post"}
	box, err := SealToPublicKey(pub, []byte("a post"), ad)
	if err != nil {
		t.Fatalf("SealToPublicKey() = %v", err)
	}
	if box[0] != 0x01 {
		t.Fatalf("box[0] = %#x, want 0x01", box[0])
	}
	ephPub := box[1:33]
	shared, err := curve25519.X25519(priv, ephPub)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	salt := append(bytes.Clone(ephPub), pub...)
	if _, err := io.ReadFull(xhkdf.New(sha256.New, shared, salt, []byte("diary-sealed-box-v1")), key); err != nil {
		t.Fatal(err)
	}
	got, err := Open(key, box[33:], ad)
	if err != nil || string(got) != "a post" {
		t.Errorf("Open(box[33:]) with a hand-derived key = %q, %v, want %q, nil", got, err, "a post")
	}
}
