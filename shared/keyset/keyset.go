// Package keyset owns keyset pagination at the edge: the opaque cursors (the position
// after the last row of a page, a time and a UUID, encoded so clients cannot read or forge
// more than a position in their own, user-scoped, rows) and the page request, limit and
// cursor, that every list parses and validates the same way.
package keyset

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxCursorLen bounds what Decode reads from a query string.
const maxCursorLen = 200

// Position is the (time, id) of the last row of a page; the next page starts after it in
// (time DESC, id DESC) order.
type Position struct {
	At time.Time
	ID string
}

// Encode returns the position as an opaque cursor of the kind (a short tag such as "l1"
// that says which list and which format it belongs to). Times keep microseconds, which is
// what PostgreSQL stores.
func (p Position) Encode(kind string) string {
	raw := kind + ":" + strconv.FormatInt(p.At.UnixMicro(), 10) + ":" + p.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// Decode reads a cursor made by Encode with the same kind. It reports false for anything
// else: another kind, bad base64, a malformed time or a non-canonical UUID.
func Decode(s, kind string) (Position, bool) {
	parts, ok := Split(s, kind, 3)
	if !ok {
		return Position{}, false
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || strconv.FormatInt(micros, 10) != parts[1] {
		return Position{}, false
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || id.String() != parts[2] {
		return Position{}, false
	}
	return Position{At: time.UnixMicro(micros).UTC(), ID: parts[2]}, true
}

// Split decodes a cursor of the kind into its n colon-separated fields, the kind first,
// for lists whose position is not a (time, id) pair.
func Split(s, kind string, n int) ([]string, bool) {
	if s == "" || len(s) > maxCursorLen {
		return nil, false
	}
	// Strict refuses non-zero trailing bits, but the decoder still skips \r and \n: the
	// re-encoding check gives every cursor one spelling (found by FuzzFeedCursor).
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != s {
		return nil, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != n || parts[0] != kind {
		return nil, false
	}
	return parts, true
}
