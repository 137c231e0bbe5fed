package facebook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/facebook/facebooktest"
	"github.com/xmojo/diary/shared/outage"
)

func TestAppSecretProof(t *testing.T) {
	// HMAC-SHA256(key "secret", "token"), computed with openssl: printf token | openssl dgst -sha256 -hmac secret
	const want = "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
	got := facebook.AppSecretProof("secret", "token")
	if len(got) != 64 || strings.ToLower(got) != got {
		t.Fatalf("AppSecretProof = %q, want 64 lower-case hex digits", got)
	}
	if got != want {
		t.Errorf("AppSecretProof(secret, token) = %s, want %s", got, want)
	}
}

func TestParseSignedRequest(t *testing.T) {
	const secret = "app-secret"
	good := facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: 1700000000, UserID: "10157"})
	sr, err := facebook.ParseSignedRequest(secret, good)
	if err != nil || sr.UserID != "10157" || sr.IssuedAt != 1700000000 {
		t.Fatalf("ParseSignedRequest(valid) = %+v, %v", sr, err)
	}
	sig, payload, _ := strings.Cut(good, ".")
	other := facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: "99"})
	_, otherPayload, _ := strings.Cut(other, ".")
	flipped := []byte(sig)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	for name, signed := range map[string]string{
		"empty":                      "",
		"no dot":                     sig + payload,
		"another secret":             facebook.SignRequest("other", facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: "10157"}),
		"a signature bit flipped":    string(flipped) + "." + payload,
		"another payload":            sig + "." + otherPayload,
		"another algorithm":          facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA1", UserID: "10157"}),
		"no user":                    facebook.SignRequest(secret, facebook.SignedRequest{Algorithm: "HMAC-SHA256"}),
		"payload not base64":         sig + ".%%%",
		"a truncated signature":      sig[:20] + "." + payload,
		"longer than any Facebook's": strings.Repeat("a", 9000) + "." + payload,
	} {
		if _, err := facebook.ParseSignedRequest(secret, signed); !errors.Is(err, facebook.ErrBadSignedRequest) {
			t.Errorf("ParseSignedRequest(%s) = %v, want ErrBadSignedRequest", name, err)
		}
	}
	// Padding, as some encoders add it, is accepted.
	if _, err := facebook.ParseSignedRequest(secret, sig+"=."+payload); err != nil {
		t.Errorf("ParseSignedRequest(padded) = %v", err)
	}
	if _, err := facebook.ParseSignedRequest("", good); err == nil {
		t.Error("ParseSignedRequest without a secret accepted a request")
	}
}

func TestParseUsage(t *testing.T) {
	h := http.Header{}
	if u := facebook.ParseUsage(h); u.Percent != 0 || u.RegainAccess != 0 {
		t.Errorf("ParseUsage(no headers) = %+v", u)
	}
	h.Set("X-App-Usage", `{"call_count":28,"total_time":25,"total_cputime":61}`)
	if u := facebook.ParseUsage(h); u.Percent != 61 {
		t.Errorf("ParseUsage(app) = %+v, want 61%%", u)
	}
	h.Set("X-Business-Use-Case-Usage", `{"1122":[{"type":"pages","call_count":90,"total_cputime":5,"total_time":5,"estimated_time_to_regain_access":12}],"3344":[{"type":"ads_management","call_count":1,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}`)
	if u := facebook.ParseUsage(h); u.Percent != 90 || u.RegainAccess != 12*time.Minute {
		t.Errorf("ParseUsage(app and business) = %+v, want 90%% and 12m", u)
	}
	h.Set("X-App-Usage", `not json`)
	h.Del("X-Business-Use-Case-Usage")
	if u := facebook.ParseUsage(h); u.Percent != 0 {
		t.Errorf("ParseUsage(malformed) = %+v, want none", u)
	}
}

func TestErrorKinds(t *testing.T) {
	for _, tt := range []struct {
		code                          int
		throttled, invalid, permitted bool
	}{
		{4, true, false, true}, {17, true, false, true}, {32, true, false, true}, {613, true, false, true},
		{80001, true, false, true}, {190, false, true, true}, {10, false, false, false}, {200, false, false, false},
		{100, false, false, true}, {1, false, false, true},
	} {
		err := error(&facebook.Error{Code: tt.code})
		if facebook.Throttled(err) != tt.throttled || facebook.TokenInvalid(err) != tt.invalid || facebook.PermissionDenied(err) == tt.permitted {
			t.Errorf("code %d: throttled %v, invalid %v, permission denied %v; want %v, %v, %v", tt.code,
				facebook.Throttled(err), facebook.TokenInvalid(err), facebook.PermissionDenied(err), tt.throttled, tt.invalid, !tt.permitted)
		}
	}
	if facebook.Throttled(errors.New("x")) || facebook.TokenInvalid(nil) {
		t.Error("a non-Graph error is classified")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := facebook.Config{AppID: "1", AppSecret: "s", APIVersion: "v25.0", GraphURL: "https://graph.facebook.com", DialogURL: "https://www.facebook.com"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	if err := (facebook.Config{}).Validate(); err != nil || (facebook.Config{}).Configured() {
		t.Errorf("an unconfigured app: Validate = %v, Configured = true", err)
	}
	for name, edit := range map[string]func(*facebook.Config){
		"FACEBOOK_APP_SECRET":   func(c *facebook.Config) { c.AppSecret = "" },
		"FACEBOOK_API_VERSION":  func(c *facebook.Config) { c.APIVersion = "25" },
		"FACEBOOK_GRAPH_URL":    func(c *facebook.Config) { c.GraphURL = "graph.facebook.com" },
		"FACEBOOK_DIALOG_URL":   func(c *facebook.Config) { c.DialogURL = "ftp://x" },
		"FACEBOOK_REDIRECT_URI": func(c *facebook.Config) { c.RedirectURI = "http://example.com/cb" },
	} {
		c := ok
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Validate(bad %s) = %v, want an error naming it", name, err)
		}
	}
}

// TestClientAgainstTheFake runs every call against the fake and checks the paging, the
// Graph error bodies and that no token reaches an error's text.
func TestClientAgainstTheFake(t *testing.T) {
	ctx := context.Background()
	fake := facebooktest.New(t, "app", "secret")
	pages := make([]facebooktest.Page, 0, 130)
	for i := range 130 {
		pages = append(pages, facebooktest.Page{ID: "pg" + strings.Repeat("1", i%3+1) + string(rune('a'+i%26)) + strings.Repeat("0", i/26), Name: "P"})
	}
	fake.AddUser(&facebooktest.User{ID: "u1", Name: "Una", Pages: pages})
	c, err := facebook.NewClient(fake.Config("https://app.example/cb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	short, err := c.ExchangeCode(ctx, fake.Authorize("u1", "https://app.example/cb"), "")
	if err != nil {
		t.Fatalf("ExchangeCode = %v", err)
	}
	long, err := c.LongLived(ctx, short.AccessToken)
	if err != nil || long.ExpiresIn <= 0 {
		t.Fatalf("LongLived = %+v, %v", long, err)
	}
	me, err := c.Me(ctx, long.AccessToken)
	if err != nil || me.ID != "u1" || me.Name != "Una" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	got, err := c.Accounts(ctx, long.AccessToken)
	if err != nil || len(got) != 130 {
		t.Fatalf("Accounts = %d pages, %v; want all 130 over two answers", len(got), err)
	}
	// A spent code: Facebook's error body, without the token in the error.
	_, err = c.ExchangeCode(ctx, "code-spent", "")
	var fe *facebook.Error
	if !errors.As(err, &fe) || fe.Type != "OAuthException" || fe.FBTraceID == "" {
		t.Errorf("ExchangeCode(unknown code) = %v, want a Graph OAuthException", err)
	}
	fake.ExpireTokens("u1")
	_, err = c.Me(ctx, long.AccessToken)
	if !facebook.TokenInvalid(err) || strings.Contains(err.Error(), long.AccessToken) {
		t.Errorf("Me(expired) = %v, want code 190 without the token", err)
	}
	// No server: ErrUnavailable, an outage, without the URL (which holds the token).
	cfg := fake.Config("")
	cfg.GraphURL = "http://127.0.0.1:1"
	dead, _ := facebook.NewClient(cfg, nil)
	_, err = dead.Me(ctx, long.AccessToken)
	if !errors.Is(err, facebook.ErrUnavailable) || !errors.Is(err, outage.ErrUnavailable) || strings.Contains(err.Error(), long.AccessToken) {
		t.Errorf("Me(no server) = %v, want ErrUnavailable without the token", err)
	}
	for _, call := range fake.Calls() {
		if call.Token != "" && !call.Proof {
			t.Errorf("%s %s without appsecret_proof", call.Method, call.Path)
		}
	}
}
