package intake

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"crypto/hpke"
)

// rfc9180A2 is RFC 9180, Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20Poly1305, base mode (mode 0, kem_id 32, kdf_id 1, aead_id 3). The values were
// taken from the RFC's source, draft-irtf-cfrg-hpke.md in github.com/cfrg/draft-irtf-cfrg-hpke
// (commit b1f7cb0cdeab6906c61b3d6574e8bdfdbe1cd3fb, section "DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, ChaCha20Poly1305", "Base Setup Information"), and agree with the entry of
// the same suite in Go's own $GOROOT/src/crypto/hpke/testdata/rfc9180.json (ikmE, ikmR,
// skRm, pkRm, enc).
var rfc9180A2 = struct {
	info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, enc string
	encryptions                                   []struct{ pt, aad, ct string }    // sequence numbers 0, 1, 2
	exports                                       []struct{ context, value string } // L = 32
}{
	info: "4f6465206f6e2061204772656369616e2055726e",
	ikmE: "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
	pkEm: "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
	skEm: "f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600",
	ikmR: "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
	pkRm: "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
	skRm: "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
	enc:  "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
	encryptions: []struct{ pt, aad, ct string }{
		{"4265617574792069732074727574682c20747275746820626561757479", "436f756e742d30",
			"1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"},
		{"4265617574792069732074727574682c20747275746820626561757479", "436f756e742d31",
			"6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c"},
		{"4265617574792069732074727574682c20747275746820626561757479", "436f756e742d32",
			"71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b"},
	},
	exports: []struct{ context, value string }{
		{"", "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e"},
		{"00", "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69"},
		{"54657374436f6e74657874", "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53"},
	},
}

// clamp is the X25519 clamping of a scalar (RFC 7748, section 5).
func clamp(k []byte) []byte {
	k = bytes.Clone(k)
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return k
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

// TestRFC9180Vectors checks the suite this package uses (kem, kdf, aead) against the RFC's
// own vector, as far as crypto/hpke lets a caller see: DeriveKeyPair from ikmE and ikmR
// gives the RFC's key pairs (so the KEM's key handling is the RFC's), a receiving context
// from the vector's enc, skRm and info opens the RFC's ciphertexts in order with their
// aad (so the KEM's shared secret, the key schedule's key and base nonce and the nonce
// sequence are the RFC's), and the exporter gives the RFC's exported values (the
// exporter secret). The sender's ephemeral key cannot be injected through the API, so
// encryption is checked by the round trips of TestSealOpen and the reference
// implementation in TestBoxFormat.
func TestRFC9180Vectors(t *testing.T) {
	v := rfc9180A2
	if kem.ID() != 0x0020 || kdf.ID() != 0x0001 || aead.ID() != 0x0003 {
		t.Fatalf("suite ids = %#x, %#x, %#x, want 0x20, 0x1, 0x3", kem.ID(), kdf.ID(), aead.ID())
	}
	for _, kp := range []struct{ name, ikm, sk, pk string }{
		{"ephemeral", v.ikmE, v.skEm, v.pkEm},
		{"recipient", v.ikmR, v.skRm, v.pkRm},
	} {
		k, err := kem.DeriveKeyPair(unhex(t, kp.ikm))
		if err != nil {
			t.Fatalf("DeriveKeyPair(%s ikm) = %v", kp.name, err)
		}
		// Bytes is SerializePrivateKey, which for X25519 clamps the scalar (RFC 9180,
		// section 7.1.2); the vector gives the unclamped one.
		sk, err := k.Bytes()
		if want := clamp(unhex(t, kp.sk)); err != nil || !bytes.Equal(sk, want) {
			t.Errorf("DeriveKeyPair(%s ikm).Bytes() = %x, %v, want %x (%s clamped)", kp.name, sk, err, want, kp.sk)
		}
		if pk := k.PublicKey().Bytes(); !bytes.Equal(pk, unhex(t, kp.pk)) {
			t.Errorf("DeriveKeyPair(%s ikm).PublicKey() = %x, want %s", kp.name, pk, kp.pk)
		}
	}
	if v.enc != v.pkEm {
		t.Fatalf("the vector's enc is not pkEm")
	}
	skR, err := kem.NewPrivateKey(unhex(t, v.skRm))
	if err != nil {
		t.Fatalf("NewPrivateKey(skRm) = %v", err)
	}
	r, err := hpke.NewRecipient(unhex(t, v.enc), skR, kdf, aead, unhex(t, v.info))
	if err != nil {
		t.Fatalf("NewRecipient() = %v", err)
	}
	for seq, e := range v.encryptions {
		pt, err := r.Open(unhex(t, e.aad), unhex(t, e.ct))
		if err != nil || !bytes.Equal(pt, unhex(t, e.pt)) {
			t.Errorf("Open(sequence %d) = %x, %v, want %s", seq, pt, err, e.pt)
		}
	}
	for _, x := range v.exports {
		got, err := r.Export(string(unhex(t, x.context)), 32)
		if err != nil || !bytes.Equal(got, unhex(t, x.value)) {
			t.Errorf("Export(%q, 32) = %x, %v, want %s", x.context, got, err, x.value)
		}
	}
	// The one-shot Open this package calls is sequence 0 with no aad: the RFC's first
	// ciphertext has aad "Count-0", so it must not open without it.
	if _, err := hpke.Open(skR, kdf, aead, unhex(t, v.info), append(unhex(t, v.enc), unhex(t, v.encryptions[0].ct)...)); err == nil {
		t.Errorf("hpke.Open(enc || ct0) without its aad opened")
	}
}

// sealRaw is hpke.Seal with this package's suite and info, for plaintexts Seal would not
// make.
func sealRaw(pk hpke.PublicKey, entryID string, plaintext []byte) ([]byte, error) {
	return hpke.Seal(pk, kdf, aead, info(entryID), plaintext)
}
