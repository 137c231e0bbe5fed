// Package entrybody provides the sealing of a uce entry's title and content under the
// user's master key: the one format every function that writes or reads uce entry text
// uses (entries, search snippets, integrations push, export, intake redemption). The
// associated data binds the user, the entry, the field and the entry version at which the
// body was written (entries.body_version), so a ciphertext moved to another row, version
// or user does not open.
package entrybody

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/xmojo/diary/shared/crypto"
)

// Fields of a uce entry that are sealed, as named in the associated data.
const (
	fieldTitle   = "title"
	fieldContent = "content"
)

// ErrUnreadable marks a uce field that does not open under the caller's key and the
// associated data of the row it was read from: a ciphertext moved to another entry,
// version or user, or a corrupted row. It is never answered with the plaintext.
var ErrUnreadable = errors.New("entrybody: entry failed its integrity check")

// fieldAD binds a sealed field to its user, its entry, which field it is, and the entry
// version at which it was written.
func fieldAD(userID, entryID, field string, bodyVersion int) crypto.AD {
	return crypto.AD{
		Owner:   userID,
		Record:  entryID,
		Purpose: "entry." + field + ".v" + strconv.Itoa(bodyVersion),
	}
}

// Sealed is a uce title and content sealed for one entry version: the title_ct and
// content_ct columns.
type Sealed struct {
	Title   []byte // nil when the entry has no title
	Content []byte
}

// Size is the stored size of the body in octets (entries.content_bytes).
func (s Sealed) Size() int { return len(s.Title) + len(s.Content) }

// Seal encrypts title (optional) and content with the user's master key for entryID at
// bodyVersion.
func Seal(key []byte, userID, entryID string, bodyVersion int, title *string, content string) (Sealed, error) {
	var b Sealed
	var err error
	if title != nil {
		b.Title, err = crypto.Seal(key, []byte(*title), fieldAD(userID, entryID, fieldTitle, bodyVersion))
		if err != nil {
			return Sealed{}, fmt.Errorf("entrybody: seal title: %w", err)
		}
	}
	b.Content, err = crypto.Seal(key, []byte(content), fieldAD(userID, entryID, fieldContent, bodyVersion))
	if err != nil {
		return Sealed{}, fmt.Errorf("entrybody: seal content: %w", err)
	}
	return b, nil
}

// Open decrypts a uce row's title (nil when none) and content. A field that does not
// authenticate gives ErrUnreadable.
func Open(key []byte, userID, entryID string, bodyVersion int, s Sealed) (title *string, content string, err error) {
	if s.Content == nil {
		return nil, "", fmt.Errorf("%w: no uce content", ErrUnreadable)
	}
	if s.Title != nil {
		pt, err := crypto.Open(key, s.Title, fieldAD(userID, entryID, fieldTitle, bodyVersion))
		if err != nil {
			return nil, "", fmt.Errorf("%w: title: %w", ErrUnreadable, err)
		}
		t := string(pt)
		title = &t
	}
	pt, err := crypto.Open(key, s.Content, fieldAD(userID, entryID, fieldContent, bodyVersion))
	if err != nil {
		return nil, "", fmt.Errorf("%w: content: %w", ErrUnreadable, err)
	}
	return title, string(pt), nil
}
