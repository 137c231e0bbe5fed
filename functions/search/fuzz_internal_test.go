package search

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/httpapi/httpapitest"
)

// FuzzSearchRequest feeds POST /search bodies through the decoder and validate, as search
// runs them before it derives the caller's index key or asks the database. A refusal is a
// 4xx of the API (422 naming the fields, or query_empty); an accepted search has a query
// that builds a tsquery, a limit from 1 to 50, a cursor of this search in its one
// spelling, normalised tags and from before to (API.md, Search).
func FuzzSearchRequest(f *testing.F) {
	cursor := position{distance: 4, id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}.encode()
	for _, s := range []string{
		`{"query":"sea walk"}`,
		`{"query":"\"by the sea\" or lake -rain walk*","limit":50,"cursor":"` + cursor + `","mood":" calm ","tags":["Sea"," walk"],"from":"2024-01-01","to":"2024-12-31T23:59:59.9999999Z"}`,
		`{"query":"the and of"}`,
		`{"query":"ab*"}`,
		`{"query":"` + strings.Repeat("x", 257) + `"}`,
		`{"query":"sea","limit":0,"cursor":"","tags":[""],"from":"2024-02-30","to":"yesterday"}`,
		`{"query":"sea","from":"2024-05-02","to":"2024-05-01"}`,
		`{"query":"sea","from":"2024-05-01","to":"2024-05-01"}`,
		`{"query":"sea","cursor":"` + position{distance: 1, id: "00000000-0000-0000-0000-000000000000"}.encode() + `"}`,
		`{"query":null,"limit":51}`,
		`{"query":"-sea"}`,
		`{"query":"sea","mood":"a\u0000b"}`,
	} {
		f.Add([]byte(s))
	}
	key, err := blindindex.NewKey(make([]byte, 32), uuid.NewString())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req searchRequest
		if err := httpapitest.Decode(body, &req, maxRequestBytes); err != nil {
			httpapitest.WantClientError(t, "decode", err)
			return
		}
		in, err := req.validate()
		if err != nil {
			httpapitest.WantClientError(t, "validate", err)
			return
		}
		if utf8.RuneCountInString(*req.Query) > blindindex.MaxQueryRunes || key.TSQuery(in.query) == "" {
			t.Fatalf("accepted query %q with an empty tsquery", *req.Query)
		}
		if in.limit < 1 || in.limit > maxLimit {
			t.Fatalf("accepted limit %d", in.limit)
		}
		if in.after != nil && in.after.encode() != *req.Cursor {
			t.Fatalf("cursor %q read as %+v, which encodes as %q", *req.Cursor, *in.after, in.after.encode())
		}
		if len(in.tags) > entryfields.MaxTags || !slices.IsSorted(in.tags) || len(slices.Compact(slices.Clone(in.tags))) != len(in.tags) {
			t.Fatalf("tags not normalised: %q", in.tags)
		}
		for _, tag := range in.tags {
			if tag == "" || utf8.RuneCountInString(tag) > entryfields.MaxTagChars || entryfields.HasControl(tag) || strings.ToLower(strings.TrimSpace(tag)) != tag {
				t.Fatalf("accepted tag %q", tag)
			}
		}
		if in.mood != nil && (strings.TrimSpace(*in.mood) != *in.mood || !utf8.ValidString(*in.mood) || strings.ContainsRune(*in.mood, 0) ||
			utf8.RuneCountInString(*in.mood) > entryfields.MaxMoodChars) {
			t.Fatalf("accepted mood %q", *in.mood)
		}
		if in.from != nil && in.to != nil && !in.from.Before(*in.to) {
			t.Fatalf("accepted from %v not before to %v", *in.from, *in.to)
		}
	})
}
