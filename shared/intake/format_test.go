package intake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// refHPKE is an independent implementation of RFC 9180's base mode for this package's
// suite (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305), written from the
// RFC's sections 4, 4.1 and 5.1 with crypto/ecdh, crypto/hkdf and x/crypto's
// ChaCha20-Poly1305, with the ephemeral key given. It is what an e2e client does with any
// RFC 9180 library; TestReferenceHPKE checks it against the RFC's vector, and
// TestBoxFormat checks this package's boxes against it.
type refHPKE struct {
	sharedSecret, key, baseNonce, exporterSecret []byte
}

var (
	kemSuiteID  = []byte("KEM\x00\x20")
	hpkeSuiteID = []byte("HPKE\x00\x20\x00\x01\x00\x03")
)

func labeledExtract(t *testing.T, suite, salt []byte, label string, ikm []byte) []byte {
	t.Helper()
	in := append(append(append([]byte("HPKE-v1"), suite...), label...), ikm...)
	prk, err := hkdf.Extract(sha256.New, in, salt)
	if err != nil {
		t.Fatal(err)
	}
	return prk
}

func labeledExpand(t *testing.T, suite, prk []byte, label string, info []byte, n int) []byte {
	t.Helper()
	in := binary.BigEndian.AppendUint16(nil, uint16(n))
	in = append(append(append(append(in, "HPKE-v1"...), suite...), label...), info...)
	out, err := hkdf.Expand(sha256.New, prk, string(in), n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// refSetup is SetupBaseS with the ephemeral private key skE (encapsulation, then the key
// schedule), or SetupBaseR when dh is computed from skR and enc: both come down to the DH
// output, enc and pkR.
func refSetup(t *testing.T, dh, enc, pkR, info []byte) refHPKE {
	t.Helper()
	var r refHPKE
	eaePRK := labeledExtract(t, kemSuiteID, nil, "eae_prk", dh)
	r.sharedSecret = labeledExpand(t, kemSuiteID, eaePRK, "shared_secret", append(bytes.Clone(enc), pkR...), 32)
	pskIDHash := labeledExtract(t, hpkeSuiteID, nil, "psk_id_hash", nil)
	infoHash := labeledExtract(t, hpkeSuiteID, nil, "info_hash", info)
	ksc := append(append([]byte{0x00}, pskIDHash...), infoHash...)
	secret := labeledExtract(t, hpkeSuiteID, r.sharedSecret, "secret", nil)
	r.key = labeledExpand(t, hpkeSuiteID, secret, "key", ksc, 32)
	r.baseNonce = labeledExpand(t, hpkeSuiteID, secret, "base_nonce", ksc, 12)
	r.exporterSecret = labeledExpand(t, hpkeSuiteID, secret, "exp", ksc, 32)
	return r
}

func x25519(t *testing.T, sk, pk []byte) []byte {
	t.Helper()
	priv, err := ecdh.X25519().NewPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdh.X25519().NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := priv.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	return dh
}

func publicOf(t *testing.T, sk []byte) []byte {
	t.Helper()
	priv, err := ecdh.X25519().NewPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return priv.PublicKey().Bytes()
}

// refSender is SetupBaseS(pkR, info) with the ephemeral key skE.
func refSender(t *testing.T, skE, pkR, info []byte) (enc []byte, r refHPKE) {
	t.Helper()
	enc = publicOf(t, skE)
	return enc, refSetup(t, x25519(t, skE, pkR), enc, pkR, info)
}

// refRecipient is SetupBaseR(enc, skR, info).
func refRecipient(t *testing.T, enc, skR, info []byte) refHPKE {
	t.Helper()
	return refSetup(t, x25519(t, skR, enc), enc, publicOf(t, skR), info)
}

// nonce is the nonce of sequence number seq (RFC 9180, section 5.2).
func (r refHPKE) nonce(seq uint64) []byte {
	n := bytes.Clone(r.baseNonce)
	var s [12]byte
	binary.BigEndian.PutUint64(s[4:], seq)
	for i := range n {
		n[i] ^= s[i]
	}
	return n
}

func (r refHPKE) seal(t *testing.T, seq uint64, aad, pt []byte) []byte {
	t.Helper()
	a, err := chacha20poly1305.New(r.key)
	if err != nil {
		t.Fatal(err)
	}
	return a.Seal(nil, r.nonce(seq), pt, aad)
}

func (r refHPKE) open(t *testing.T, seq uint64, aad, ct []byte) ([]byte, error) {
	t.Helper()
	a, err := chacha20poly1305.New(r.key)
	if err != nil {
		t.Fatal(err)
	}
	return a.Open(nil, r.nonce(seq), ct, aad)
}

// TestReferenceHPKE checks refHPKE against every value of RFC 9180's A.2.1 (see
// rfc9180A2 for where they come from): the shared secret, the key schedule's outputs, and
// the ciphertexts of each sequence number the vector lists.
func TestReferenceHPKE(t *testing.T) {
	v := rfc9180A2
	enc, r := refSender(t, unhex(t, v.skEm), unhex(t, v.pkRm), unhex(t, v.info))
	if hex.EncodeToString(enc) != v.enc {
		t.Errorf("enc = %x, want %s", enc, v.enc)
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"shared_secret", r.sharedSecret, "0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7"},
		{"key", r.key, "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91"},
		{"base_nonce", r.baseNonce, "5c4d98150661b848853b547f"},
		{"exporter_secret", r.exporterSecret, "a3b010d4994890e2c6968a36f64470d3c824c8f5029942feb11e7a74b2921922"},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
		}
	}
	if rr := refRecipient(t, enc, unhex(t, v.skRm), unhex(t, v.info)); !bytes.Equal(rr.key, r.key) || !bytes.Equal(rr.baseNonce, r.baseNonce) {
		t.Errorf("the recipient's key schedule differs from the sender's")
	}
	pt := unhex(t, "4265617574792069732074727574682c20747275746820626561757479")
	for _, e := range []struct {
		seq     uint64
		aad, ct string
	}{
		{0, "436f756e742d30", v.encryptions[0].ct},
		{1, "436f756e742d31", v.encryptions[1].ct},
		{2, "436f756e742d32", v.encryptions[2].ct},
		{4, "436f756e742d34", "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16"},
		{255, "436f756e742d323535", "18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c"},
		{256, "436f756e742d323536", "7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b"},
	} {
		if got := r.seal(t, e.seq, unhex(t, e.aad), pt); hex.EncodeToString(got) != e.ct {
			t.Errorf("seal(sequence %d) = %x, want %s", e.seq, got, e.ct)
		}
	}
}

// The documented test vector of the intake box (docs/intake.md, "Test vector"): fixed
// keys, entry id and body, and the box they give. The private keys are SHA-256 of the
// strings "diary/intake/v1 test vector: recipient" and "... ephemeral" (any 32 bytes are
// an X25519 private key).
const (
	vectorSkR       = "5fc3446b714aededd6fd9d0b325e6ae7742bc9c319a389ec73beff11eaf0db28"
	vectorPkR       = "76037b0197f62cfe0adfc192c5f534d0effb59cc2b68e808f2317f31eba57d4f"
	vectorSkE       = "866fc8e1eb0bfb7924b8abef39f6b6a770be26170d67c4d155611f08c6393650"
	vectorEnc       = "e6f8c8a5af8a48f952b064c7ad65f6c1cb93a622ac4fbfa4b6a4ff5075c36841"
	vectorEntryID   = "0190f3a2-7b1c-7d4e-9f00-1234567890ab"
	vectorTitle     = "Test vector"
	vectorContent   = "Dear diary, this box opens with any RFC 9180 library."
	vectorPlaintext = `{"title":"Test vector","content":"Dear diary, this box opens with any RFC 9180 library."}`
	vectorBox       = vectorEnc + "445276bc6ad77a640f2fdfe83deb597d57ca5af1514f0d42f6c11ef129ecb79cab3e126c8afb81a23dce61715048e1a92dd4b05dca31f1b8d990b4c489e4c0c93d8c4ffc78991360c92ed45588414d8b8f22a4b5953f580e17aceaf78eb6529ff4fc619a89054f7927"
)

// TestBoxFormat checks the intake box against the documented format and vector, with the
// independent refHPKE: the vector's box is what base mode gives for its keys, info and
// plaintext, and Open opens it; the plaintext is the JSON Seal writes for the body; and a
// box Seal makes opens with refHPKE (enc first, then the ciphertext of sequence 0 with no
// aad, info "diary/intake/v1/" + entry id).
func TestBoxFormat(t *testing.T) {
	skR := sha256.Sum256([]byte("diary/intake/v1 test vector: recipient"))
	skE := sha256.Sum256([]byte("diary/intake/v1 test vector: ephemeral"))
	pkR := publicOf(t, skR[:])
	infoBytes := []byte("diary/intake/v1/" + vectorEntryID)
	body := Body{Title: ptr(vectorTitle), Content: vectorContent}

	plain, err := marshalBody(body)
	if err != nil || string(plain) != vectorPlaintext {
		t.Fatalf("marshalBody(vector body) = %s, %v, want %s", plain, err, vectorPlaintext)
	}
	enc, r := refSender(t, skE[:], pkR, infoBytes)
	box := append(enc, r.seal(t, 0, nil, plain)...)
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"skR", skR[:], vectorSkR}, {"pkR", pkR, vectorPkR}, {"skE", skE[:], vectorSkE}, {"enc", enc, vectorEnc},
		{"info", infoBytes, "64696172792f696e74616b652f76312f30313930663361322d376231632d376434652d396630302d313233343536373839306162"},
		{"box", box, vectorBox},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("vector %s = %x, documented %s", c.name, c.got, c.want)
		}
	}
	got, err := Open(skR[:], vectorEntryID, unhex(t, vectorBox))
	if err != nil || got.Title == nil || *got.Title != vectorTitle || got.Content != vectorContent {
		t.Errorf("Open(vector box) = %+v, %v", got, err)
	}

	sealed, err := Seal(pkR, vectorEntryID, body)
	if err != nil {
		t.Fatal(err)
	}
	rr := refRecipient(t, sealed[:EncapsulatedKeySize], skR[:], infoBytes)
	pt, err := rr.open(t, 0, nil, sealed[EncapsulatedKeySize:])
	if err != nil || string(pt) != vectorPlaintext {
		t.Errorf("refHPKE open of Seal's box = %s, %v, want %s", pt, err, vectorPlaintext)
	}
}
