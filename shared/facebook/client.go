package facebook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxResponseBytes bounds what is read of one Graph answer.
const maxResponseBytes = 4 << 20

// callTimeout bounds one Graph call when the caller's context has no earlier deadline.
const callTimeout = 15 * time.Second

// Client calls the Graph API for one app. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// NewClient returns a client for the configured app. httpClient may be nil for a client
// with the project's timeouts.
func NewClient(cfg Config, httpClient *http.Client) (*Client, error) {
	if !cfg.Configured() {
		return nil, errors.New("facebook: FACEBOOK_APP_ID is not set")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: callTimeout}
	}
	return &Client{cfg: cfg, http: httpClient}, nil
}

// oauth is the OAuth 2 view of the app: the login dialog and the code exchange endpoint.
func (c *Client) oauth(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.cfg.AppID,
		ClientSecret: c.cfg.AppSecret,
		RedirectURL:  redirectURI,
		Scopes:       Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   strings.TrimRight(c.cfg.DialogURL, "/") + "/" + c.cfg.APIVersion + "/dialog/oauth",
			TokenURL:  c.graphURL("oauth/access_token"),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// AuthorizationURL is the login dialog URL for state, sending the user back to
// redirectURI (FACEBOOK_REDIRECT_URI when empty): client_id, redirect_uri, state, scope
// (comma-separated, as Facebook documents it) and response_type=code.
func (c *Client) AuthorizationURL(state, redirectURI string) string {
	o := c.oauth(c.redirect(redirectURI))
	o.Scopes = []string{strings.Join(Scopes, ",")}
	return o.AuthCodeURL(state)
}

// RedirectURI returns the redirect URI a connect uses: redirectURI, else the configured
// one; "" when neither is set.
func (c *Client) redirect(redirectURI string) string {
	if redirectURI != "" {
		return redirectURI
	}
	return c.cfg.RedirectURI
}

// DefaultRedirectURI is FACEBOOK_REDIRECT_URI.
func (c *Client) DefaultRedirectURI() string { return c.cfg.RedirectURI }

// Token is an access token as Graph's token endpoint answers it.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is seconds; 0 when Facebook gave none.
	ExpiresIn int64 `json:"expires_in"`
}

// maxTokenLifetime bounds the lifetime an answer can give a token: a long-lived token
// lasts about 60 days, and a larger expires_in would overflow time.Duration (an
// expires_in of 2^63 seconds made the token expire in the past).
const maxTokenLifetime = 10 * 365 * 24 * time.Hour

// ExpiresAt is when the token expires, counted from now (at most maxTokenLifetime ahead);
// the zero time when unknown.
func (t Token) ExpiresAt(now time.Time) time.Time {
	if t.ExpiresIn <= 0 {
		return time.Time{}
	}
	if t.ExpiresIn > int64(maxTokenLifetime/time.Second) {
		return now.Add(maxTokenLifetime)
	}
	return now.Add(time.Duration(t.ExpiresIn) * time.Second)
}

// ExchangeCode trades the dialog's code for a short-lived user token:
// GET /{version}/oauth/access_token?client_id&redirect_uri&client_secret&code. The
// redirect URI must be the one the dialog was opened with.
func (c *Client) ExchangeCode(ctx context.Context, code, redirectURI string) (Token, error) {
	q := url.Values{
		"client_id":     {c.cfg.AppID},
		"client_secret": {c.cfg.AppSecret},
		"redirect_uri":  {c.redirect(redirectURI)},
		"code":          {code},
	}
	var t Token
	if _, err := c.do(ctx, http.MethodGet, "oauth/access_token", q, nil, &t); err != nil {
		return Token{}, fmt.Errorf("facebook: exchange code: %w", err)
	}
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("facebook: exchange code: %w", errNoToken)
	}
	return t, nil
}

// LongLived trades a short-lived user token for a long-lived one (about 60 days):
// GET /{version}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
// &fb_exchange_token.
func (c *Client) LongLived(ctx context.Context, short string) (Token, error) {
	q := url.Values{
		"grant_type":        {"fb_exchange_token"},
		"client_id":         {c.cfg.AppID},
		"client_secret":     {c.cfg.AppSecret},
		"fb_exchange_token": {short},
	}
	var t Token
	if _, err := c.do(ctx, http.MethodGet, "oauth/access_token", q, nil, &t); err != nil {
		return Token{}, fmt.Errorf("facebook: long-lived token: %w", err)
	}
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("facebook: long-lived token: %w", errNoToken)
	}
	return t, nil
}

var errNoToken = &Error{Message: "the token endpoint answered without an access_token", Type: "OAuthException"}

// Me is the user a token belongs to (GET /me?fields=id,name): the app-scoped user id.
type Me struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Me reads the token's user.
func (c *Client) Me(ctx context.Context, token string) (Me, error) {
	var m Me
	if _, err := c.do(ctx, http.MethodGet, "me", c.authed(token, url.Values{"fields": {"id,name"}}), nil, &m); err != nil {
		return Me{}, fmt.Errorf("facebook: me: %w", err)
	}
	if m.ID == "" {
		return Me{}, fmt.Errorf("facebook: me: %w", &Error{Message: "no id in the answer", Type: "GraphMethodException"})
	}
	return m, nil
}

// Page is a Facebook Page the user manages, with the Page access token that posts to it.
type Page struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	AccessToken string   `json:"access_token"`
	Tasks       []string `json:"tasks"`
}

// maxPages bounds how many Pages Accounts reads (pages of 100).
const maxPages = 1000

// Accounts lists the Pages the user manages (GET /me/accounts, every page of the answer).
func (c *Client) Accounts(ctx context.Context, token string) ([]Page, error) {
	var pages []Page
	q := c.authed(token, url.Values{"fields": {"id,name,access_token,tasks"}, "limit": {"100"}})
	for {
		var res struct {
			Data   []Page `json:"data"`
			Paging paging `json:"paging"`
		}
		if _, err := c.do(ctx, http.MethodGet, "me/accounts", q, nil, &res); err != nil {
			return nil, fmt.Errorf("facebook: accounts: %w", err)
		}
		pages = append(pages, res.Data...)
		after := res.Paging.Cursors.After
		if after == "" || res.Paging.Next == "" || len(res.Data) == 0 || len(pages) >= maxPages {
			return pages, nil
		}
		q.Set("after", after)
	}
}

// CanPost reports whether the user may create content on the Page (task CREATE_CONTENT;
// an answer without tasks is taken as allowed, and Facebook decides).
func (p Page) CanPost() bool {
	if len(p.Tasks) == 0 {
		return true
	}
	for _, t := range p.Tasks {
		if t == "CREATE_CONTENT" || t == "MANAGE" {
			return true
		}
	}
	return false
}

// PublishToPage posts message to the Page's feed with the Page's own token
// (POST /{page-id}/feed) and returns the new post's id ("{page-id}_{post-id}").
func (c *Client) PublishToPage(ctx context.Context, page Page, message string) (string, error) {
	form := c.authed(page.AccessToken, url.Values{"message": {message}})
	var res struct {
		ID string `json:"id"`
	}
	if _, err := c.do(ctx, http.MethodPost, url.PathEscape(page.ID)+"/feed", nil, form, &res); err != nil {
		return "", fmt.Errorf("facebook: publish to page: %w", err)
	}
	if res.ID == "" {
		return "", fmt.Errorf("facebook: publish to page: %w", &Error{Message: "no post id in the answer", Type: "GraphMethodException"})
	}
	return res.ID, nil
}

// Post is one of the user's posts as GET /me/posts answers it.
type Post struct {
	ID           string `json:"id"`
	Message      string `json:"message"`
	CreatedTime  Time   `json:"created_time"`
	PermalinkURL string `json:"permalink_url"`
}

// PostPage is one page of the user's posts, newest first, with the cursor of the next.
type PostPage struct {
	Posts []Post
	// After is the cursor of the next (older) page; "" on the last.
	After string
	// Usage is what the answer's usage headers said.
	Usage Usage
}

// PostsQuery selects the user's posts: created at or after Since (zero for all), the page
// after the cursor After, Limit per page (Graph's default when 0).
type PostsQuery struct {
	Since time.Time
	After string
	Limit int
}

// Posts reads one page of the user's posts: GET /me/posts?fields=id,message,created_time,
// permalink_url with since, after and limit.
func (c *Client) Posts(ctx context.Context, token string, pq PostsQuery) (PostPage, error) {
	q := c.authed(token, url.Values{"fields": {"id,message,created_time,permalink_url"}})
	if !pq.Since.IsZero() {
		q.Set("since", strconv.FormatInt(pq.Since.Unix(), 10))
	}
	if pq.After != "" {
		q.Set("after", pq.After)
	}
	if pq.Limit > 0 {
		q.Set("limit", strconv.Itoa(pq.Limit))
	}
	var res struct {
		Data   []Post `json:"data"`
		Paging paging `json:"paging"`
	}
	usage, err := c.do(ctx, http.MethodGet, "me/posts", q, nil, &res)
	if err != nil {
		return PostPage{Usage: usage}, fmt.Errorf("facebook: posts: %w", err)
	}
	page := PostPage{Posts: res.Data, Usage: usage}
	if res.Paging.Next != "" && len(res.Data) > 0 {
		page.After = res.Paging.Cursors.After
	}
	return page, nil
}

// RevokePermissions removes the app's permissions for the token's user
// (DELETE /me/permissions), which also invalidates the token.
func (c *Client) RevokePermissions(ctx context.Context, token string) error {
	var res struct {
		Success bool `json:"success"`
	}
	if _, err := c.do(ctx, http.MethodDelete, "me/permissions", c.authed(token, nil), nil, &res); err != nil {
		return fmt.Errorf("facebook: revoke permissions: %w", err)
	}
	return nil
}

// paging is Graph's cursor paging object.
type paging struct {
	Cursors struct {
		Before string `json:"before"`
		After  string `json:"after"`
	} `json:"cursors"`
	Next     string `json:"next"`
	Previous string `json:"previous"`
}

// AppSecretProof is appsecret_proof for a token: the hex HMAC-SHA256 of the token keyed by
// the app secret. Every call made with a token sends it, so a stolen token is useless
// without the secret (with "Require App Secret" on in the app's settings).
func AppSecretProof(appSecret, token string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

// authed adds the token and its appsecret_proof to q.
func (c *Client) authed(token string, q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	q.Set("access_token", token)
	q.Set("appsecret_proof", AppSecretProof(c.cfg.AppSecret, token))
	return q
}

func (c *Client) graphURL(path string) string {
	return strings.TrimRight(c.cfg.GraphURL, "/") + "/" + c.cfg.APIVersion + "/" + path
}

// do makes one Graph call: query in the URL, form (if any) as the POST body, and decodes
// a 2xx answer into out. A Graph error body becomes *Error; a network failure or an answer
// that is no Graph JSON becomes ErrUnavailable. The usage headers are returned either way.
// No URL, token or answer body is ever put into an error: they hold tokens.
func (c *Client) do(ctx context.Context, method, path string, query, form url.Values, out any) (Usage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	target := c.graphURL(path)
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return Usage{}, fmt.Errorf("%w: build request", ErrUnavailable)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return Usage{}, context.Canceled
		}
		// url.Error holds the URL and so the token: keep only the kind of failure.
		return Usage{}, fmt.Errorf("%w: %s %s: %s", ErrUnavailable, method, path, transportReason(err))
	}
	defer resp.Body.Close()
	usage := ParseUsage(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return usage, fmt.Errorf("%w: %s %s: read answer", ErrUnavailable, method, path)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil && eb.Error != nil {
			eb.Error.HTTPStatus = resp.StatusCode
			return usage, eb.Error
		}
		return usage, fmt.Errorf("%w: %s %s: HTTP %d without a Graph error", ErrUnavailable, method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return usage, fmt.Errorf("%w: %s %s: the answer is not the expected JSON", ErrUnavailable, method, path)
	}
	return usage, nil
}

// transportReason names a transport failure without its URL.
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timeout"
		}
		return "connection failed"
	}
	return "request failed"
}
