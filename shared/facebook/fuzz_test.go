package facebook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/facebook"
)

// FuzzParseSignedRequest feeds data deletion callbacks' signed_request values: arbitrary
// strings, and arbitrary payloads signed with the app secret (so the JSON decoding behind
// the signature check is reached). It never panics, every refusal is ErrBadSignedRequest,
// and an accepted one carries a signature that verifies, the HMAC-SHA256 algorithm and a
// user id.
func FuzzParseSignedRequest(f *testing.F) {
	const secret = "app-secret"
	valid := facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: 1_700_000_000, UserID: "10224"})
	sig, payload, _ := strings.Cut(valid, ".")
	f.Add(valid, []byte(`{"algorithm":"HMAC-SHA256","user_id":"10224"}`))
	f.Add(sig+"=."+payload+"==", []byte(`{"algorithm":"hmac-sha256","user_id":"1","issued_at":1e3}`))
	f.Add(sig+"."+payload+"x", []byte(`{"algorithm":"none","user_id":"1"}`))
	f.Add("."+payload, []byte(`{"algorithm":"HMAC-SHA256","user_id":""}`))
	f.Add(sig, []byte(`{"algorithm":"HMAC-SHA256","user_id":10224}`))
	f.Add(strings.Repeat("a", 9000)+"."+payload, []byte(`[]`))
	f.Add("", []byte("\xff"))
	f.Fuzz(func(t *testing.T, signed string, rawPayload []byte) {
		check := func(in string) {
			sr, err := facebook.ParseSignedRequest(secret, in)
			if err != nil {
				if !errors.Is(err, facebook.ErrBadSignedRequest) {
					t.Fatalf("ParseSignedRequest(%q) = %v, want ErrBadSignedRequest", in, err)
				}
				return
			}
			encodedSig, encodedPayload, _ := strings.Cut(in, ".")
			got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(encodedSig, "="))
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(encodedPayload))
			if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
				t.Fatalf("ParseSignedRequest(%q) accepted a signature that does not verify", in)
			}
			if !strings.EqualFold(sr.Algorithm, "HMAC-SHA256") || sr.UserID == "" {
				t.Fatalf("ParseSignedRequest(%q) = %+v", in, sr)
			}
		}
		check(signed)
		encoded := base64.RawURLEncoding.EncodeToString(rawPayload)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(encoded))
		check(base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + encoded)
		if _, err := facebook.ParseSignedRequest("", signed); err == nil {
			t.Fatalf("ParseSignedRequest accepted %q without an app secret", signed)
		}
	})
}

// answer is a Graph answer the fuzzer makes: every call of the client gets it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzGraphAnswer feeds the client Graph answers: any status, usage headers and body, to
// every call the project makes (the token exchanges, /me, /me/accounts, /me/posts, a Page
// post, the revocation). It never panics or loops; a failure is a Graph *Error or
// ErrUnavailable (what the callers act on: retry, reconnect, or tell the user), never a
// bare decoding error; a success holds what each call promises (a token, an id) and usage
// within what the headers can say.
func FuzzGraphAnswer(f *testing.F) {
	for _, s := range []struct {
		status      int
		usage, body string
	}{
		{200, `{"call_count":12,"total_time":3,"total_cputime":99}`, `{"access_token":"EAAB","token_type":"bearer","expires_in":5183944}`},
		{200, ``, `{"id":"10224","name":"Ann"}`},
		{200, ``, `{"data":[{"id":"1","name":"Page","access_token":"EAAP","tasks":["CREATE_CONTENT"]}],"paging":{"cursors":{"after":"QVFI"},"next":"https://graph/next"}}`},
		{200, ``, `{"data":[{"id":"1_2","message":"sea","created_time":"2026-02-18T09:30:00+0000"}],"paging":{"cursors":{"after":"x"},"next":"n"}}`},
		{200, ``, `{"data":[{"id":"1_2","created_time":"yesterday"}]}`},
		{200, `{"call_count":"x"}`, `{"access_token":"x","expires_in":9223372036854775807}`},
		{400, ``, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"A1"}}`},
		{403, ``, `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4}}`},
		{500, ``, `<html>oops</html>`},
		{200, ``, `{"success":true}`},
		{200, ``, `null`},
		{302, ``, ``},
		{200, `{"call_count":1,"estimated_time_to_regain_access":153722867280912931}`, `{"access_token":"x","expires_in":9223372036}`},
	} {
		f.Add(s.status, s.usage, `{"1234":[{"type":"pages","call_count":95,"estimated_time_to_regain_access":30}]}`, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, appUsage, businessUsage string, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("X-App-Usage", appUsage)
		h.Set("X-Business-Use-Case-Usage", businessUsage)
		c, err := facebook.NewClient(facebook.Config{AppID: "1", AppSecret: "s", APIVersion: "v25.0",
			GraphURL: "https://graph.example", DialogURL: "https://www.example"}, &http.Client{Transport: answer{status, h, body}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		wantGraphError := func(call string, err error) {
			t.Helper()
			var ge *facebook.Error
			if !errors.As(err, &ge) && !errors.Is(err, facebook.ErrUnavailable) {
				t.Fatalf("%s: %v, want a *facebook.Error or ErrUnavailable", call, err)
			}
			if strings.Contains(err.Error(), "EAA") || strings.Contains(err.Error(), "access_token=") {
				t.Fatalf("%s: the error holds a token: %v", call, err)
			}
		}
		now := time.Unix(1_700_000_000, 0)
		for name, exchange := range map[string]func() (facebook.Token, error){
			"ExchangeCode": func() (facebook.Token, error) { return c.ExchangeCode(ctx, "code", "https://app.example/cb") },
			"LongLived":    func() (facebook.Token, error) { return c.LongLived(ctx, "EAAshort") },
		} {
			tok, err := exchange()
			if err != nil {
				wantGraphError(name, err)
				continue
			}
			if tok.AccessToken == "" {
				t.Fatalf("%s: no token and no error", name)
			}
			if at := tok.ExpiresAt(now); tok.ExpiresIn > 0 && !at.After(now) {
				t.Fatalf("%s: expires_in %d gives an expiry of %v, not after now", name, tok.ExpiresIn, at)
			}
		}
		if me, err := c.Me(ctx, "EAAuser"); err != nil {
			wantGraphError("Me", err)
		} else if me.ID == "" {
			t.Fatalf("Me: no id and no error")
		}
		if _, err := c.Accounts(ctx, "EAAuser"); err != nil {
			wantGraphError("Accounts", err)
		}
		if page, err := c.Posts(ctx, "EAAuser", facebook.PostsQuery{Since: now, Limit: 25}); err != nil {
			wantGraphError("Posts", err)
		} else if page.After != "" && len(page.Posts) == 0 {
			t.Fatalf("Posts: a next page after an empty one")
		}
		if id, err := c.PublishToPage(ctx, facebook.Page{ID: "1", AccessToken: "EAApage"}, "hello"); err != nil {
			wantGraphError("PublishToPage", err)
		} else if id == "" {
			t.Fatalf("PublishToPage: no id and no error")
		}
		if err := c.RevokePermissions(ctx, "EAAuser"); err != nil {
			wantGraphError("RevokePermissions", err)
		}
		if u := facebook.ParseUsage(h); u.RegainAccess < 0 || u.RegainAccess > facebook.MaxRegainAccess || u.Percent < 0 {
			t.Fatalf("ParseUsage(%q, %q) = %+v", appUsage, businessUsage, u)
		}
	})
}
