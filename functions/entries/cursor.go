package entries

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Cursors are opaque to clients: URL-safe base64 of a versioned, typed position. A cursor
// that does not decode to a valid position of the expected kind is refused with a 422; a
// well-formed cursor can only name a position in the caller's own entries, as every query
// is scoped by the caller's user id.
const (
	listCursorTag = "l1"
	feedCursorTag = "f1"
)

// listCursor is the position after the last entry of a list page.
type listCursor struct {
	occurredAt time.Time
	id         string
}

func (c listCursor) encode() string {
	raw := listCursorTag + ":" + strconv.FormatInt(c.occurredAt.UnixMicro(), 10) + ":" + c.id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeListCursor(s string) (listCursor, bool) {
	parts, ok := cursorParts(s, listCursorTag, 3)
	if !ok {
		return listCursor{}, false
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return listCursor{}, false
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || id.String() != parts[2] {
		return listCursor{}, false
	}
	return listCursor{occurredAt: time.UnixMicro(micros).UTC(), id: parts[2]}, true
}

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
	parts, ok := cursorParts(s, feedCursorTag, 3)
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

func cursorParts(s, tag string, n int) ([]string, bool) {
	if s == "" || len(s) > 200 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != n || parts[0] != tag {
		return nil, false
	}
	return parts, true
}
