package archive

import (
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/httpapi/httpapitest"
)

// FuzzCreateImportRequest feeds POST /imports bodies through the decoder and validate, as
// createImport runs them before the quota and S3, for both tiers. A refusal is a 4xx of the
// API (422, 413 above 2 GiB, 403 for Day One into an e2e account); an accepted import is
// diary or dayone (dayone for uce only), 1 byte to 2 GiB, with a 32-byte SHA-256.
func FuzzCreateImportRequest(f *testing.F) {
	sum := strings.Repeat("0f", 32)
	for _, s := range []string{
		`{"format":"diary","size_bytes":1024,"sha256":"` + sum + `"}`,
		`{"format":"dayone","size_bytes":2147483648,"sha256":"` + strings.ToUpper(sum) + `"}`,
		`{"format":"dayone","size_bytes":2147483649,"sha256":"` + sum + `"}`,
		`{"format":"markdown","size_bytes":0,"sha256":"0f"}`,
		`{"format":null,"size_bytes":-5,"sha256":""}`,
		`{"format":"diary","size_bytes":1.5,"sha256":"` + sum + `"}`,
		`{"format":"diary","size_bytes":1,"sha256":"` + sum + `","extra":true}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, uce bool) {
		tier := "e2e"
		if uce {
			tier = tierUCE
		}
		var req createImportRequest
		if err := httpapitest.Decode(body, &req, importBodyLimit); err != nil {
			httpapitest.WantClientError(t, "decode", err)
			return
		}
		in, err := req.validate(tier)
		if err != nil {
			httpapitest.WantClientError(t, "validate", err)
			return
		}
		if !(in.format == formatDiary || in.format == formatDayOne && uce) {
			t.Fatalf("accepted format %q for %s", in.format, tier)
		}
		if in.size < 1 || in.size > maxImportBytes {
			t.Fatalf("accepted size %d", in.size)
		}
		if len(in.sha256) != 32 || hex.EncodeToString(in.sha256) != strings.ToLower(*req.SHA256) {
			t.Fatalf("accepted sha256 %q as %x", *req.SHA256, in.sha256)
		}
	})
}

// FuzzExportFormat feeds GET /export query strings, for both tiers. A refusal is a 422 or
// the 403 of a plain-text format for e2e; an accepted format is one the export writes for
// the tier, diary when the query names none.
func FuzzExportFormat(f *testing.F) {
	for _, s := range []string{"", "format=diary", "format=markdown", "format=dayone", "format=", "format=zip", "format=diary&format=markdown", "format=%zz", "x=1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, uce bool) {
		tier := "e2e"
		if uce {
			tier = tierUCE
		}
		// Like (*url.URL).Query, keep what parses of a malformed query string.
		q, _ := url.ParseQuery(raw)
		format, err := exportFormat(q, tier)
		if err != nil {
			httpapitest.WantClientError(t, "exportFormat", err)
			return
		}
		switch {
		case !q.Has("format") && format != formatDiary:
			t.Fatalf("exportFormat(%q) = %q, want diary by default", raw, format)
		case format != formatDiary && (!uce || format != formatMarkdown && format != formatDayOne):
			t.Fatalf("exportFormat(%q) = %q for %s", raw, format, tier)
		}
	})
}
