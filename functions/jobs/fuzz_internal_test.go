package jobs

import (
	"net/url"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/httpapi/httpapitest"
	"github.com/xmojo/diary/shared/keyset"
)

// FuzzListQuery feeds GET /jobs query strings through parseListQuery, as listJobs runs it
// before the database. A refusal is a 422 of the API; an accepted list asks for 1 to 100
// jobs of a kind that matches the documented pattern (or of every kind), after a cursor
// this list issued.
func FuzzListQuery(f *testing.F) {
	cursor := keyset.Position{ID: uuid.NewString()}.Encode(listCursorKind)
	other := keyset.Position{ID: uuid.NewString()}.Encode("m1")
	for _, s := range []string{"", "kind=cleanup", "kind=account_purge&limit=100", "kind=Cleanup", "kind=" + url.QueryEscape("a b"),
		"kind=", "limit=0", "limit=-1", "limit=1e2", "cursor=" + cursor, "cursor=" + other, "cursor=", "kind=%", "kind=a&kind=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Like (*url.URL).Query, keep what parses of a malformed query string.
		q, _ := url.ParseQuery(raw)
		filter, err := parseListQuery(q)
		if err != nil {
			httpapitest.WantClientError(t, "parseListQuery", err)
			return
		}
		if filter.limit < 1 || filter.limit > keyset.MaxLimit {
			t.Fatalf("parseListQuery(%q) limit %d", raw, filter.limit)
		}
		if filter.kind != "" && !kindPattern.MatchString(filter.kind) {
			t.Fatalf("parseListQuery(%q) kind %q", raw, filter.kind)
		}
		if filter.after != nil && filter.after.Encode(listCursorKind) != q.Get("cursor") {
			t.Fatalf("parseListQuery(%q) cursor %q read as %+v", raw, q.Get("cursor"), *filter.after)
		}
	})
}
