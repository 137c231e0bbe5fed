package crypto_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
)

// FuzzOpen feeds Open envelopes an attacker with database access could write. Only the
// envelope Seal made opens, with its plaintext; every other byte string is refused
// without a panic.
func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, 32)
	ad := crypto.AD{Owner: "user-1", Record: "entry-1", Purpose: "entry.content.v1"}
	// Seal's nonce is random, and the fuzzer runs this body again in each worker process,
	// so the one valid envelope is fixed here (made once by Seal with this key and AD).
	sealed, err := hex.DecodeString("01bfd3aa2cc37f6554375c35fb983bd38652422375fa594d728ffe8ea8e96fbd95b251d3019ffd1c0a64ea73181a17918364ca0dbd12963e8675")
	if err != nil {
		f.Fatal(err)
	}
	if pt, err := crypto.Open(key, sealed, ad); err != nil || string(pt) != "the one plaintext" {
		f.Fatalf("the fixed envelope does not open: %q, %v", pt, err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add(append(append([]byte{}, sealed...), 0))
	f.Add([]byte{})
	f.Add([]byte{0x01})
	f.Add(bytes.Repeat([]byte{0x01}, crypto.Overhead()))
	f.Fuzz(func(t *testing.T, envelope []byte) {
		pt, err := crypto.Open(key, envelope, ad)
		if err != nil {
			return
		}
		if !bytes.Equal(envelope, sealed) || string(pt) != "the one plaintext" {
			t.Fatalf("Open accepted an envelope Seal did not make: %x -> %q", envelope, pt)
		}
	})
}
