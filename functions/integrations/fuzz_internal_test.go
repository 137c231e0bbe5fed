package integrations

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/httpapi/httpapitest"
)

// FuzzRequestBodies feeds the JSON bodies of connect, callback and push through the
// decoder and the validation their handlers run before Redis, the database or Facebook. A
// refusal is a 4xx of the API; an accepted body is what the contract allows: an https
// redirect URI (http for localhost) without fragment or user, a bounded state and code,
// an entry id in the canonical form PostgreSQL takes, a bounded Page id, a message of
// 1 to 63,206 characters of UTF-8 (required from e2e callers).
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{`{}`, `{"redirect_uri":"https://app.example/fb"}`, `{"redirect_uri":"http://localhost:8080/cb"}`,
		`{"redirect_uri":"http://app.example/fb"}`, `{"redirect_uri":"https://u:p@app.example/#x"}`, `{"redirect_uri":"//app.example"}`} {
		f.Add(byte(0), []byte(s), false)
	}
	for _, s := range []string{`{"code":"AQD","state":"c3RhdGU"}`, `{"code":"","state":"x"}`, `{"code":"x","state":"` + strings.Repeat("s", 257) + `"}`} {
		f.Add(byte(1), []byte(s), false)
	}
	for _, s := range []string{
		`{"entry_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","page_id":"1234"}`,
		`{"entry_id":"urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","page_id":"1234","message":"hello"}`,
		`{"entry_id":"{0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B}","page_id":"1234","message":"hello"}`,
		`{"entry_id":"0190a1b2c3d47e5f8a9b0c1d2e3f4a5b","page_id":"","message":""}`,
		`{"entry_id":"x","page_id":"1","message":"\udc00"}`,
	} {
		f.Add(byte(2), []byte(s), true)
		f.Add(byte(2), []byte(s), false)
	}
	f.Fuzz(func(t *testing.T, endpoint byte, body []byte, uce bool) {
		switch endpoint % 3 {
		case 0:
			var req connectRequest
			if err := httpapitest.Decode(body, &req, bodyLimit); err != nil {
				httpapitest.WantClientError(t, "connect decode", err)
				return
			}
			for _, def := range []string{"", "https://diary.example/fb"} {
				uri, err := req.redirectURI(def)
				if err != nil {
					httpapitest.WantClientError(t, "connect", err)
					continue
				}
				u, err := url.Parse(uri)
				if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil || len(uri) > 2048 ||
					!(u.Scheme == "https" || u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")) {
					t.Fatalf("connect accepted redirect URI %q", uri)
				}
				if uri != req.RedirectURI && (req.RedirectURI != "" || uri != def) {
					t.Fatalf("connect chose %q for %q with default %q", uri, req.RedirectURI, def)
				}
			}
		case 1:
			var req callbackRequest
			if err := httpapitest.Decode(body, &req, bodyLimit); err != nil {
				httpapitest.WantClientError(t, "callback decode", err)
				return
			}
			if err := req.validate(); err != nil {
				httpapitest.WantClientError(t, "callback", err)
				return
			}
			if req.State == "" || len(req.State) > 256 || req.Code == "" || len(req.Code) > 4096 {
				t.Fatalf("callback accepted state of %d bytes, code of %d", len(req.State), len(req.Code))
			}
		case 2:
			tier := "e2e"
			if uce {
				tier = "uce"
			}
			var req pushRequest
			if err := httpapitest.Decode(body, &req, bodyLimit); err != nil {
				httpapitest.WantClientError(t, "push decode", err)
				return
			}
			if err := req.validate(tier); err != nil {
				httpapitest.WantClientError(t, "push", err)
				return
			}
			if id, err := uuid.Parse(req.EntryID); err != nil || id.String() != req.EntryID {
				t.Fatalf("push kept entry id %q, not its canonical form", req.EntryID)
			}
			if req.PageID == "" || len(req.PageID) > 128 {
				t.Fatalf("push accepted page id %q", req.PageID)
			}
			switch {
			case req.Message == nil && !uce:
				t.Fatalf("e2e push accepted without a message")
			case req.Message != nil && (*req.Message == "" || !utf8.ValidString(*req.Message) || utf8.RuneCountInString(*req.Message) > maxMessageRunes):
				t.Fatalf("push accepted a message of %d bytes", len(*req.Message))
			}
		}
	})
}

// FuzzDataDeletionForm feeds Facebook's data deletion callback bodies (any content type,
// any form, urlencoded or multipart, with a signed_request that may or may not verify)
// through signedRequestOf, all the callback does before the database. A refusal is 415 or
// invalid_signed_request (400), never a 500; an accepted form is within the body limit and
// names a user.
func FuzzDataDeletionForm(f *testing.F) {
	const secret = "app-secret"
	signed := facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: "10224", IssuedAt: 1_700_000_000})
	form := "signed_request=" + url.QueryEscape(signed)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("signed_request", signed)
	_ = mw.Close()
	for _, s := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", form},
		{"application/x-www-form-urlencoded; charset=UTF-8", form + "&signed_request=other"},
		{mw.FormDataContentType(), mp.String()},
		{"multipart/form-data", mp.String()},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"signed_request\"; filename=\"a\"\r\n\r\n" + signed + "\r\n--x--\r\n"},
		{"application/x-www-form-urlencoded", "signed_request=" + strings.Repeat("a", deletionFormLimit)},
		{"application/x-www-form-urlencoded", "%zz=1&signed_request=" + url.QueryEscape(signed)},
		{"application/json", `{"signed_request":"` + signed + `"}`},
		{"", form},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/integrations/facebook/data-deletion", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		sr, err := signedRequestOf(httptest.NewRecorder(), r, secret)
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
		if err != nil {
			httpapitest.WantClientError(t, "signedRequestOf", err)
			return
		}
		if len(body) > deletionFormLimit || sr.UserID == "" {
			t.Fatalf("accepted a body of %d bytes for user %q", len(body), sr.UserID)
		}
	})
}
