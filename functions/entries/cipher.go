package entries

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

// errUnreadable marks a uce field that does not open under the caller's key and the
// associated data of the row it was read from: a ciphertext moved to another entry,
// version or user, or a corrupted row. It is never answered with the plaintext.
var errUnreadable = errors.New("entries: entry failed its integrity check")

// fieldAD binds a sealed field to its user, its entry, which field it is, and the entry
// version at which it was written, so a ciphertext copied elsewhere does not open.
func fieldAD(userID, entryID, field string, bodyVersion int) crypto.AD {
	return crypto.AD{
		Owner:   userID,
		Record:  entryID,
		Purpose: "entry." + field + ".v" + strconv.Itoa(bodyVersion),
	}
}

// sealedBody is a uce title and content sealed for one entry version.
type sealedBody struct {
	title   []byte // nil when the entry has no title
	content []byte
}

// sealBody encrypts title (optional) and content with the user's master key.
func sealBody(key []byte, userID, entryID string, bodyVersion int, title *string, content string) (sealedBody, error) {
	var b sealedBody
	var err error
	if title != nil {
		b.title, err = crypto.Seal(key, []byte(*title), fieldAD(userID, entryID, fieldTitle, bodyVersion))
		if err != nil {
			return sealedBody{}, fmt.Errorf("entries: seal title: %w", err)
		}
	}
	b.content, err = crypto.Seal(key, []byte(content), fieldAD(userID, entryID, fieldContent, bodyVersion))
	if err != nil {
		return sealedBody{}, fmt.Errorf("entries: seal content: %w", err)
	}
	return b, nil
}

// openBody decrypts a uce row's title and content. A field that does not authenticate
// gives errUnreadable.
func openBody(key []byte, userID string, row entryRow) (title *string, content string, err error) {
	if row.ContentCT == nil {
		return nil, "", fmt.Errorf("%w: no uce content", errUnreadable)
	}
	if row.TitleCT != nil {
		pt, err := crypto.Open(key, row.TitleCT, fieldAD(userID, row.ID, fieldTitle, row.BodyVersion))
		if err != nil {
			return nil, "", fmt.Errorf("%w: title: %w", errUnreadable, err)
		}
		s := string(pt)
		title = &s
	}
	pt, err := crypto.Open(key, row.ContentCT, fieldAD(userID, row.ID, fieldContent, row.BodyVersion))
	if err != nil {
		return nil, "", fmt.Errorf("%w: content: %w", errUnreadable, err)
	}
	return title, string(pt), nil
}
