package intake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// FuzzOpen feeds Open boxes someone with database access could write in place of a
// delivered entry's. Only the documented vector box opens under its key and entry id, with
// its body; every other byte string is refused without a panic (HPKE's AEAD binds the
// encapsulated key, the info with the entry id, and the ciphertext).
func FuzzOpen(f *testing.F) {
	skR := sha256.Sum256([]byte("diary/intake/v1 test vector: recipient"))
	box, err := hex.DecodeString(vectorBox)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(box)
	f.Add(box[:len(box)-1])
	f.Add(box[:32])
	f.Add(append(bytes.Clone(box), 0))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Open(skR[:], vectorEntryID, b)
		if err != nil {
			return
		}
		if !bytes.Equal(b, box) || got.Content != vectorContent || got.Title == nil || *got.Title != vectorTitle {
			t.Fatalf("Open accepted a box Seal did not make: %x -> %+v", b, got)
		}
	})
}
