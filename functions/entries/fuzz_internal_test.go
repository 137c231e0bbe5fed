package entries

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xmojo/diary/shared/entryfields"
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
