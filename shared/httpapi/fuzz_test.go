package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/httpapi"
)

// FuzzMatchesETag feeds If-Match / If-None-Match values a client can send. It never
// panics, and a strong match is always a weak match too (RFC 9110, 8.8.3.2).
func FuzzMatchesETag(f *testing.F) {
	for _, s := range []string{`"3"`, `W/"3"`, `*`, `"1", "3"`, `"3`, `,,"3"`, `* "3"`, `W/`, `""`, "\"3\"\t,", `"a"b"`} {
		f.Add(s, `"3"`)
	}
	f.Add(`W/"3"`, `W/"3"`)
	f.Fuzz(func(t *testing.T, header, etag string) {
		strong := httpapi.MatchesETag([]string{header}, etag, false)
		weak := httpapi.MatchesETag([]string{header}, etag, true)
		if strong && !weak {
			t.Fatalf("MatchesETag(%q, %q): strong match but no weak match", header, etag)
		}
	})
}

// FuzzDecodeJSON feeds request bodies to DecodeJSON. It never panics; a body it accepts
// is within the limit, and a refusal is always the API's *Error with a 4xx status.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"content":"x","tags":["a"]}`, `{}`, `{"content":1}`, `{"x":1}`, `{"content":"a"} {}`, `[`, `{"content":"` + strings.Repeat("a", 70) + `"}`, "\xff", `null`} {
		f.Add(s)
	}
	const limit = 64
	f.Fuzz(func(t *testing.T, body string) {
		var dst struct {
			Content string   `json:"content"`
			Tags    []string `json:"tags"`
			Mood    *string  `json:"mood"`
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		err := httpapi.DecodeJSON(httptest.NewRecorder(), r, &dst, limit)
		if err == nil {
			if len(body) > limit {
				t.Fatalf("accepted %d bytes over a %d-byte limit", len(body), limit)
			}
			return
		}
		apiErr, ok := err.(*httpapi.Error)
		if !ok || apiErr.Status < 400 || apiErr.Status > 499 {
			t.Fatalf("DecodeJSON(%q) = %#v, want an *httpapi.Error with a 4xx status", body, err)
		}
	})
}
