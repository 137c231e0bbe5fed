package intake

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/xmojo/diary/shared/crypto"
)

func keyPair(t *testing.T) (pub, priv []byte) {
	t.Helper()
	pub, priv, err := crypto.GenerateX25519()
	if err != nil {
		t.Fatalf("GenerateX25519() = %v", err)
	}
	return pub, priv
}

func ptr(s string) *string { return &s }

const entryA = "0190f3a2-7b1c-7d4e-9f00-1234567890ab"

func TestSealOpen(t *testing.T) {
	pub, priv := keyPair(t)
	for _, b := range []Body{
		{Title: ptr("A day at the lake"), Content: "We swam <b>&</b> \"laughed\".\n"},
		{Title: nil, Content: "no title"},
		{Title: ptr(""), Content: ""},
		{Content: "\x00\x01 control and emoji 🙂"},
	} {
		box, err := Seal(pub, entryA, b)
		if err != nil {
			t.Fatalf("Seal(%+v) = %v", b, err)
		}
		got, err := Open(priv, entryA, box)
		if err != nil {
			t.Fatalf("Open(Seal(%+v)) = %v", b, err)
		}
		if (got.Title == nil) != (b.Title == nil) || (got.Title != nil && *got.Title != *b.Title) || got.Content != b.Content {
			t.Errorf("Open(Seal(%+v)) = %+v", b, got)
		}
		plain, _ := marshalBody(b)
		if want := EncapsulatedKeySize + len(plain) + 16; len(box) != want {
			t.Errorf("len(Seal(%+v)) = %d, want %d (enc + JSON + tag)", b, len(box), want)
		}
	}
	box1, _ := Seal(pub, entryA, Body{Content: "same"})
	box2, _ := Seal(pub, entryA, Body{Content: "same"})
	if bytes.Equal(box1[:32], box2[:32]) {
		t.Errorf("two boxes share the encapsulated key %x", box1[:32])
	}
}

func TestOpenRefuses(t *testing.T) {
	pub, priv := keyPair(t)
	_, otherPriv := keyPair(t)
	box, err := Seal(pub, entryA, Body{Title: ptr("t"), Content: "secret text"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Seal(pub, entryA, Body{Content: "another"})
	type tc struct {
		name    string
		priv    []byte
		entryID string
		box     []byte
	}
	tests := []tc{
		{"wrong entry id", priv, "0190f3a2-7b1c-7d4e-9f00-1234567890ac", box},
		{"entry id in upper case", priv, "0190F3A2-7B1C-7D4E-9F00-1234567890AB", box},
		{"wrong private key", otherPriv, entryA, box},
		{"other box's encapsulated key", priv, entryA, append(bytes.Clone(other[:32]), box[32:]...)},
		{"empty", priv, entryA, nil},
	}
	for _, n := range []int{1, 31, 32, 47, len(box) - 1} {
		tests = append(tests, tc{fmt.Sprintf("truncated to %d", n), priv, entryA, box[:n]})
	}
	for i := range box {
		flipped := bytes.Clone(box)
		flipped[i] ^= 0x01
		tests = append(tests, tc{fmt.Sprintf("flip byte %d", i), priv, entryA, flipped})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Open(tt.priv, tt.entryID, tt.box); !errors.Is(err, ErrUnreadable) {
				t.Errorf("Open() = %+v, %v, want %v", got, err, ErrUnreadable)
			}
		})
	}
	if _, err := Open(priv[:31], entryA, box); err == nil {
		t.Errorf("Open(31-byte private key) = nil error, want an error")
	}
}

// TestOpenRefusesOtherPlaintext: a box of a valid HPKE encryption whose plaintext is not
// the JSON body does not open as one.
func TestOpenRefusesOtherPlaintext(t *testing.T) {
	pub, priv := keyPair(t)
	pk, err := kem.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []string{"", "not json", `["a"]`, `{"content":"x"} {}`, `{"content":"x","extra":1}`, `{"content":5}`} {
		box, err := sealRaw(pk, entryA, []byte(pt))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Open(priv, entryA, box); !errors.Is(err, ErrUnreadable) {
			t.Errorf("Open(box of %q) = %+v, %v, want %v", pt, got, err, ErrUnreadable)
		}
	}
}

func TestSealRefusesBadPublicKeys(t *testing.T) {
	pub, _ := keyPair(t)
	topBit := bytes.Clone(pub)
	topBit[31] |= 0x80
	one := make([]byte, 32)
	one[0] = 1
	for name, key := range map[string][]byte{
		"empty":               nil,
		"31 bytes":            pub[:31],
		"33 bytes":            append(bytes.Clone(pub), 0),
		"all zero (order 4)":  make([]byte, 32),
		"one (order 1)":       one,
		"not canonical (top)": topBit,
	} {
		if _, err := Seal(key, entryA, Body{Content: "x"}); !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("Seal(%s key) = %v, want %v", name, err, ErrInvalidPublicKey)
		}
	}
}
