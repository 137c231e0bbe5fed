package keyset

import (
	"net/url"
	"strconv"
)

// The page sizes every list takes.
const (
	// DefaultLimit is the page size when a request gives no limit.
	DefaultLimit = 20
	// MaxLimit is the largest limit a request may give.
	MaxLimit = 100
)

// The messages a bad page request gets in its 422's fields, the same for every list.
var (
	limitMessage  = "must be an integer from 1 to " + strconv.Itoa(MaxLimit)
	cursorMessage = "is not a cursor from an earlier page of this list"
)

// Page is a page request: how many rows, and the position the page starts after.
type Page struct {
	Limit int
	// After is the last row of the previous page; nil asks for the first page.
	After *Position
}

// ParsePage reads the limit and cursor query parameters of a list whose cursors are
// Positions of the kind. A parameter that is absent takes its default (DefaultLimit, the
// first page); one that is present must be valid, an empty one included: a client that
// turned the last page's null next_cursor into "cursor=" would otherwise start over from
// the first page for ever. Each invalid parameter sets its message in fields, which the
// caller answers with httpapi.Invalid together with its own parameters' messages.
func ParsePage(q url.Values, kind string, fields map[string]string) Page {
	p := Page{Limit: ParseLimit(q, fields)}
	if q.Has("cursor") {
		if pos, ok := Decode(q.Get("cursor"), kind); ok {
			p.After = &pos
		} else {
			fields["cursor"] = cursorMessage
		}
	}
	return p
}

// ParseLimit reads the limit query parameter alone, for a list whose position comes in
// another parameter (the entries' sync feed): DefaultLimit when absent, else an integer
// from 1 to MaxLimit. Anything else, "limit=" included, sets fields["limit"].
func ParseLimit(q url.Values, fields map[string]string) int {
	if !q.Has("limit") {
		return DefaultLimit
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > MaxLimit {
		fields["limit"] = limitMessage
		return DefaultLimit
	}
	return n
}
