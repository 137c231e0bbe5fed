package entries

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/httpapi/httpapitest"
	"github.com/xmojo/diary/shared/keyset"
)

// FuzzEntryRequest feeds create/update bodies through the decoder and validate, for both
// tiers. Whatever is accepted is within the contract's limits (API.md, Entries), so no
// oversized or malformed value reaches the database; a refusal is a 422 with fields.
func FuzzEntryRequest(f *testing.F) {
	for _, s := range []string{
		`{"content":"walked to the sea","title":"Sunday","mood":" calm ","tags":["Sea","sea"," walk "],"occurred_at":"2024-05-01T08:30:00.1234567+02:00"}`,
		`{"ciphertext":"AAEC","tags":["a"]}`,
		`{"ciphertext":"AAE=","source":"facebook"}`,
		`{"ciphertext":"AAE"}`,
		`{"content":"x","tags":[""]}`,
		`{"content":"x","mood":"\u0007"}`,
		`{"content":"x","source":"nope","occurred_at":"yesterday"}`,
		`{"content":null}`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, uce bool) {
		var req entryRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return
		}
		tier := tierE2E
		if uce {
			tier = tierUCE
		}
		in, err := req.validate(tier)
		if err != nil {
			return
		}
		if uce {
			if len(in.content) > maxContentBytes || in.ciphertext != nil {
				t.Fatalf("uce accepted content of %d bytes, ciphertext %v", len(in.content), in.ciphertext != nil)
			}
			if in.title != nil && utf8.RuneCountInString(*in.title) > entryfields.MaxTitleChars {
				t.Fatalf("uce accepted a title of %d characters", utf8.RuneCountInString(*in.title))
			}
		} else {
			if len(in.ciphertext) == 0 || len(in.ciphertext) > maxCiphertextBytes || in.title != nil || in.content != "" {
				t.Fatalf("e2e accepted ciphertext of %d bytes, title %v, content %q", len(in.ciphertext), in.title, in.content)
			}
			// One spelling: the stored envelope encodes back to exactly what was sent.
			if got := base64.StdEncoding.EncodeToString(in.ciphertext); got != *req.Ciphertext {
				t.Fatalf("e2e ciphertext %q stored as %q", *req.Ciphertext, got)
			}
		}
		if in.mood != nil && (*in.mood == "" || utf8.RuneCountInString(*in.mood) > entryfields.MaxMoodChars || entryfields.HasControl(*in.mood) || strings.TrimSpace(*in.mood) != *in.mood) {
			t.Fatalf("accepted mood %q", *in.mood)
		}
		if len(in.tags) > entryfields.MaxTags || !slices.IsSorted(in.tags) || len(slices.Compact(slices.Clone(in.tags))) != len(in.tags) {
			t.Fatalf("tags not normalised: %q", in.tags)
		}
		for _, tag := range in.tags {
			if tag == "" || utf8.RuneCountInString(tag) > entryfields.MaxTagChars || entryfields.HasControl(tag) || strings.ToLower(strings.TrimSpace(tag)) != tag {
				t.Fatalf("accepted tag %q", tag)
			}
		}
		if in.source != nil && !entryfields.ValidSource(*in.source) {
			t.Fatalf("accepted source %q", *in.source)
		}
		if in.occurredAt != nil && (in.occurredAt.Location() != time.UTC || in.occurredAt.Nanosecond()%1000 != 0) {
			t.Fatalf("occurred_at %v not UTC microseconds", *in.occurredAt)
		}
	})
}

// FuzzFeedCursor feeds ?updated_since= cursors: one accepted has one spelling.
func FuzzFeedCursor(f *testing.F) {
	f.Add(feedCursor{seq: 42, issued: time.Unix(1_700_000_000, 0)}.encode())
	f.Add(feedCursor{seq: 0, issued: time.Unix(0, 0)}.encode())
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("f1:-1:0")))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("f1:01:0")))
	f.Add("2024-05-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := decodeFeedCursor(s)
		if !ok {
			return
		}
		if c.seq < 0 || c.encode() != s {
			t.Fatalf("decodeFeedCursor(%q) = %+v, which encodes as %q", s, c, c.encode())
		}
	})
}

// FuzzIdempotencyKey feeds Idempotency-Key headers. An accepted key is 1 to 255 visible
// ASCII characters (bare or quoted), and two different keys never share a hash input.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"8e0f5c2a-4b1d-4c3e-9f8a-1b2c3d4e5f60", `"quoted"`, `""`, "", "a b", strings.Repeat("k", 256), "\x7f", `"`} {
		f.Add(s, "")
		f.Add(s, "second")
	}
	f.Fuzz(func(t *testing.T, key, second string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header["Idempotency-Key"] = []string{key}
		if second != "" {
			r.Header["Idempotency-Key"] = append(r.Header["Idempotency-Key"], second)
		}
		hash, sent, err := idempotencyKeyHash(r)
		if !sent {
			t.Fatalf("a request with the header reported none")
		}
		if err != nil {
			return
		}
		if second != "" {
			t.Fatalf("accepted two Idempotency-Key values %q, %q", key, second)
		}
		bare := key
		if len(bare) >= 2 && bare[0] == '"' && bare[len(bare)-1] == '"' {
			bare = bare[1 : len(bare)-1]
		}
		if !idempotencyKeyPattern.MatchString(bare) || len(hash) != 32 {
			t.Fatalf("accepted key %q (bare %q), hash %x", key, bare, hash)
		}
		other := httptest.NewRequest("POST", "/", nil)
		other.Header.Set("Idempotency-Key", bare+"x")
		if h2, _, err := idempotencyKeyHash(other); err == nil && bytes.Equal(h2, hash) {
			t.Fatalf("keys %q and %q hash alike", bare, bare+"x")
		}
	})
}

// FuzzListQuery feeds GET /entries query strings through parseListFilter, or
// parseFeedQuery when updated_since is given, as listEntries runs them before the caller's
// keys and the database. A refusal is a 422; an accepted list asks for 1 to 100 entries,
// after a cursor of this list in its one spelling, with filters PostgreSQL can compare as
// text (valid UTF-8, no NUL), normalised tags, a source of the list and from before to.
func FuzzListQuery(f *testing.F) {
	cursor := keyset.Position{At: time.Unix(1_700_000_000, 0), ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}.Encode(listCursorKind)
	for _, s := range []string{"", "limit=100", "limit=0", "cursor=" + cursor, "cursor=", "mood=%20calm%20", "mood=%ff", "mood=a%00b",
		"tag=Sea&tag=sea&tag=%20walk", "tag=", "tag=%ff", "source=facebook", "source=nope", "from=2024-01-01&to=2024-01-01",
		"from=2024-01-02&to=2024-01-01", "from=2024-01-01T00:00:00Z&to=2024-01-01T00:00:00Z", "include_deleted=true", "include_deleted=maybe",
		"updated_since=2024-01-01T00:00:00Z", "updated_since=1970-01-01T00:00:00Z", "updated_since=" + feedCursor{seq: 7, issued: time.Unix(1_700_000_000, 0)}.encode(),
		"updated_since=&limit=5", "updated_since=2024-01-01T00:00:00Z&mood=x", "updated_since=nope"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Like (*url.URL).Query, keep what parses of a malformed query string.
		q, _ := url.ParseQuery(raw)
		if q.Has("updated_since") {
			_, limit, err := parseFeedQuery(q)
			if err != nil {
				httpapitest.WantClientError(t, "parseFeedQuery", err)
				return
			}
			if limit < 1 || limit > keyset.MaxLimit {
				t.Fatalf("parseFeedQuery(%q) limit %d", raw, limit)
			}
			return
		}
		filter, err := parseListFilter(q, 1<<20)
		if err != nil {
			httpapitest.WantClientError(t, "parseListFilter", err)
			return
		}
		if filter.size.limit < 1 || filter.size.limit > keyset.MaxLimit {
			t.Fatalf("parseListFilter(%q) limit %d", raw, filter.size.limit)
		}
		if filter.after != nil && filter.after.Encode(listCursorKind) != q.Get("cursor") {
			t.Fatalf("parseListFilter(%q) read cursor %q as %+v", raw, q.Get("cursor"), *filter.after)
		}
		if filter.mood != nil && (!utf8.ValidString(*filter.mood) || strings.ContainsRune(*filter.mood, 0) || strings.TrimSpace(*filter.mood) != *filter.mood) {
			t.Fatalf("parseListFilter(%q) mood %q", raw, *filter.mood)
		}
		if filter.source != nil && !entryfields.ValidSource(*filter.source) {
			t.Fatalf("parseListFilter(%q) source %q", raw, *filter.source)
		}
		for _, tag := range filter.tags {
			if tag == "" || !utf8.ValidString(tag) || entryfields.HasControl(tag) || strings.ToLower(strings.TrimSpace(tag)) != tag {
				t.Fatalf("parseListFilter(%q) tag %q", raw, tag)
			}
		}
		if filter.from != nil && filter.to != nil && !filter.from.Before(*filter.to) {
			t.Fatalf("parseListFilter(%q) from %v not before to %v", raw, *filter.from, *filter.to)
		}
	})
}
