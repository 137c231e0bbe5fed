package entries

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/xmojo/diary/shared/keyset"
)

// Cursors are opaque to clients: URL-safe base64 of a versioned, typed position. A cursor
// that does not decode to a valid position of the expected kind is refused with a 422; a
// well-formed cursor can only name a position in the caller's own entries, as every query
// is scoped by the caller's user id.
const (
	listCursorKind = "l1" // a keyset.Position in (occurred_at, id)
	feedCursorTag  = "f1"
)

// feedCursor is a position in a user's change sequence, with the time it was issued: a
// position older than the retention of tombstones may have missed a purged delete.
type feedCursor struct {
	seq    int64
	issued time.Time
}

func (c feedCursor) encode() string {
	raw := feedCursorTag + ":" + strconv.FormatInt(c.seq, 10) + ":" + strconv.FormatInt(c.issued.Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeFeedCursor(s string) (feedCursor, bool) {
	parts, ok := keyset.Split(s, feedCursorTag, 3)
	if !ok {
		return feedCursor{}, false
	}
	seq, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != parts[1] {
		return feedCursor{}, false
	}
	issued, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || strconv.FormatInt(issued, 10) != parts[2] {
		return feedCursor{}, false
	}
	return feedCursor{seq: seq, issued: time.Unix(issued, 0).UTC()}, true
}
