package entrybody_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/xmojo/diary/shared/entrybody"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	title := "a title"
	sealed, err := entrybody.Seal(key, "user-1", "entry-1", 2, &title, "the content")
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if sealed.Size() != len(sealed.Title)+len(sealed.Content) || bytes.Contains(sealed.Content, []byte("content")) {
		t.Fatalf("Sealed = %+v: size or plaintext wrong", sealed)
	}
	gotTitle, gotContent, err := entrybody.Open(key, "user-1", "entry-1", 2, sealed)
	if err != nil || gotTitle == nil || *gotTitle != title || gotContent != "the content" {
		t.Fatalf("Open = %v, %q, %v", gotTitle, gotContent, err)
	}
	untitled, err := entrybody.Seal(key, "user-1", "entry-1", 1, nil, "x")
	if err != nil {
		t.Fatalf("Seal untitled: %v", err)
	}
	if gotTitle, _, err := entrybody.Open(key, "user-1", "entry-1", 1, untitled); err != nil || gotTitle != nil {
		t.Fatalf("Open untitled = %v, %v", gotTitle, err)
	}

	other := bytes.Repeat([]byte{8}, 32)
	tests := []struct {
		name        string
		key         []byte
		user, entry string
		version     int
		body        entrybody.Sealed
	}{
		{"another key", other, "user-1", "entry-1", 2, sealed},
		{"another user", key, "user-2", "entry-1", 2, sealed},
		{"another entry", key, "user-1", "entry-2", 2, sealed},
		{"another version", key, "user-1", "entry-1", 3, sealed},
		{"title moved into content", key, "user-1", "entry-1", 2, entrybody.Sealed{Content: sealed.Title}},
		{"no content", key, "user-1", "entry-1", 2, entrybody.Sealed{Title: sealed.Title}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := entrybody.Open(tt.key, tt.user, tt.entry, tt.version, tt.body); !errors.Is(err, entrybody.ErrUnreadable) {
				t.Errorf("Open = %v, want ErrUnreadable", err)
			}
		})
	}
}
