package blindindex

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzQuerySnippet feeds the search query parser what a client can send, and cuts a
// snippet of some content with what it parsed. The parser refuses with one of its errors
// or accepts a query of at most MaxQueryRunes characters; every highlight of the snippet
// lies inside it, in order, none empty.
func FuzzQuerySnippet(f *testing.F) {
	for _, q := range []string{`walk*`, `"sea walk" -rain or hills`, `the and of`, `wa*`, `""`, `-`, `"unclosed`, `OR or Or`, `café ÉCOLE`, "a\x00b"} {
		f.Add(q, "We walked along the sea wall, walking past the hills in the rain. Café école.")
	}
	f.Fuzz(func(t *testing.T, q, content string) {
		parsed, err := ParseQuery(q)
		if err != nil {
			if !errors.Is(err, ErrQueryEmpty) && !errors.Is(err, ErrQueryTooLong) && !errors.Is(err, ErrPrefixTooShort) {
				t.Fatalf("ParseQuery(%q) = %v: not one of its errors", q, err)
			}
			return
		}
		if utf8.RuneCountInString(q) > MaxQueryRunes {
			t.Fatalf("ParseQuery accepted %d characters", utf8.RuneCountInString(q))
		}
		if !utf8.ValidString(content) {
			return // entry text is valid UTF-8 (shared/entryfields refuses anything else)
		}
		snippet, marks := Snippet(content, parsed)
		n, last := utf8.RuneCountInString(snippet), 0
		for _, m := range marks {
			if m[0] < last || m[0] >= m[1] || m[1] > n {
				t.Fatalf("Snippet(%q, %q) = %q with highlight %v (previous end %d, %d runes)", content, q, snippet, m, last, n)
			}
			last = m[1]
		}
	})
}
