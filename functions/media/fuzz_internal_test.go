package media

import (
	"encoding/hex"
	"mime"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/httpapi/httpapitest"
	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/mediarow"
)

// FuzzUploadRequest feeds POST /upload bodies through the decoder and validate, as upload
// runs them before it asks for the caller's keys or the database. A refusal is a 4xx of the
// API (422 for a bad field, 413 for a size above the limit); what is accepted is what the
// contract allows (API.md, Media): a filename of UTF-8 text without control characters,
// an allowed bare content type, 1 byte to 50 MiB, a 32-byte SHA-256, an entry id in its
// canonical form.
func FuzzUploadRequest(f *testing.F) {
	sum := strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"filename":"sea.jpg","content_type":"image/jpeg","size_bytes":1024,"sha256":"` + sum + `"}`,
		`{"filename":"sea.jpg","content_type":"image/jpeg","size_bytes":1,"sha256":"` + strings.ToUpper(sum) + `","entry_id":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}`,
		`{"filename":"sea.jpg","content_type":"image/jpeg; charset=utf-8","size_bytes":0,"sha256":"ab"}`,
		`{"filename":"a\u0000b","content_type":"text/html","size_bytes":-1,"sha256":"` + sum + `","entry_id":"nope"}`,
		`{"filename":"big.mp4","content_type":"video/mp4","size_bytes":52428801,"sha256":"` + sum + `"}`,
		`{"filename":"","content_type":"","size_bytes":9223372036854775807,"sha256":""}`,
		`{"filename":"x","content_type":"IMAGE/PNG","size_bytes":1e3,"sha256":"` + sum + `","entry_id":"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}"}`,
		`{"size_bytes":"12"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req uploadRequest
		if err := httpapitest.Decode(body, &req, bodyLimit); err != nil {
			httpapitest.WantClientError(t, "decode", err)
			return
		}
		in, err := req.validate()
		if err != nil {
			httpapitest.WantClientError(t, "validate", err)
			return
		}
		if in.filename == "" || len(in.filename) > maxFilenameBytes || !utf8.ValidString(in.filename) || strings.IndexFunc(in.filename, unicode.IsControl) >= 0 {
			t.Fatalf("accepted filename %q", in.filename)
		}
		if mt, params, err := mime.ParseMediaType(in.contentType); err != nil || mt != in.contentType || len(params) > 0 || !mediarow.Allowed(in.contentType) {
			t.Fatalf("accepted content type %q", in.contentType)
		}
		if in.size < 1 || in.size > maxMediaBytes {
			t.Fatalf("accepted size %d", in.size)
		}
		if len(in.sha256) != 32 || hex.EncodeToString(in.sha256) != strings.ToLower(*req.SHA256) {
			t.Fatalf("accepted sha256 %q as %x", *req.SHA256, in.sha256)
		}
		if in.entryID != nil {
			if id, err := uuid.Parse(*in.entryID); err != nil || id.String() != *in.entryID {
				t.Fatalf("accepted entry id %q", *in.entryID)
			}
		}
	})
}

// FuzzListQuery feeds GET /media query strings and {id} path values. A refusal is a 422
// naming the parameter; an accepted list asks for 1 to 100 media, for an entry id in its
// canonical form; a path id is a media id in canonical form or names no media.
func FuzzListQuery(f *testing.F) {
	cursor := keyset.Position{ID: uuid.NewString()}.Encode(listCursorKind)
	for _, s := range []string{"", "limit=5", "limit=0", "limit=101", "limit=", "cursor=" + cursor, "cursor=", "cursor=" + cursor + "x",
		"entry_id=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "entry_id=nope&limit=x", "entry_id=%zz", "limit=1&limit=2"} {
		f.Add(s, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	}
	f.Add("", "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	f.Add("", "../x")
	f.Fuzz(func(t *testing.T, query, id string) {
		r := httptest.NewRequest("GET", "/api/v1/media", nil)
		r.URL.RawQuery = query
		filter, err := parseListQuery(r)
		if err != nil {
			httpapitest.WantClientError(t, "parseListQuery", err)
		} else {
			if filter.limit < 1 || filter.limit > keyset.MaxLimit {
				t.Fatalf("parseListQuery(%q) limit %d", query, filter.limit)
			}
			if filter.entryID != nil {
				if u, err := uuid.Parse(*filter.entryID); err != nil || u.String() != *filter.entryID {
					t.Fatalf("parseListQuery(%q) entry id %q", query, *filter.entryID)
				}
			}
		}
		r.SetPathValue("id", id)
		if got, ok := pathID(r); ok {
			if u, err := uuid.Parse(got); err != nil || u.String() != got {
				t.Fatalf("pathID(%q) = %q", id, got)
			}
		}
	})
}
