// Package facebooktest is a fake of the Facebook Graph API for tests: an httptest server
// that answers the calls shared/facebook makes as Facebook's documentation says they are
// answered (the OAuth token endpoint with a code and with grant_type=fb_exchange_token,
// /me, /me/accounts, /{page-id}/feed, /me/posts with cursor paging, DELETE
// /me/permissions), with the documented error bodies ({"error": {"message", "type",
// "code", "error_subcode", "fbtrace_id"}}) and usage headers (X-App-Usage,
// X-Business-Use-Case-Usage). It checks what Facebook checks: the app id and secret, the
// redirect URI of a code, that every token is valid, and appsecret_proof on every call
// made with a token.
package facebooktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/facebook"
)

// Version is the Graph API version the fake serves (any vNN.N path is accepted).
const Version = "v25.0"

// Fake is a running fake Graph API for one app.
type Fake struct {
	URL       string
	AppID     string
	AppSecret string

	srv *httptest.Server
	mu  sync.Mutex
	// codes maps an authorization code to the user it logs in and the redirect URI the
	// dialog was opened with.
	codes map[string]codeGrant
	// tokens maps every issued token to what it is.
	tokens map[string]*tokenInfo
	users  map[string]*User
	seq    int
	// calls records every request.
	calls []Call
	// failures are answers queued for the next calls of a path.
	failures map[string][]failure
	// usage is sent on every answer.
	appUsage, bucUsage string
}

// User is a Facebook user of the fake: the app-scoped id, the name, the Pages and the
// posts (any order; the fake answers newest first).
type User struct {
	ID    string
	Name  string
	Pages []Page
	Posts []facebook.Post
	// Published holds what was posted to each Page's feed, by Page id.
	Published map[string][]string
}

// Page is a Page a fake user manages.
type Page struct {
	ID, Name string
	Tasks    []string
}

type codeGrant struct {
	userID, redirectURI string
}

type tokenInfo struct {
	userID string
	pageID string // a Page token's Page
	long   bool
	dead   bool
}

// Call is one request the fake received.
type Call struct {
	Method, Path string
	// Token is the access_token sent, "" for none.
	Token string
	// Proof says whether a valid appsecret_proof came with the token.
	Proof bool
}

type failure struct {
	status int
	body   map[string]any
}

// New starts a fake for an app with the given id and secret, closed when the test ends.
func New(t testing.TB, appID, appSecret string) *Fake {
	t.Helper()
	f := &Fake{
		AppID: appID, AppSecret: appSecret,
		codes: map[string]codeGrant{}, tokens: map[string]*tokenInfo{}, users: map[string]*User{},
		failures: map[string][]failure{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Config returns the facebook.Config that points at the fake, with redirectURI as the
// default redirect URI.
func (f *Fake) Config(redirectURI string) facebook.Config {
	return facebook.Config{
		AppID: f.AppID, AppSecret: f.AppSecret, RedirectURI: redirectURI,
		APIVersion: Version, GraphURL: f.URL, DialogURL: f.URL,
	}
}

// AddUser registers a user.
func (f *Fake) AddUser(u *User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Published == nil {
		u.Published = map[string][]string{}
	}
	f.users[u.ID] = u
}

// AddPosts gives a user more posts.
func (f *Fake) AddPosts(userID string, posts ...facebook.Post) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[userID].Posts = append(f.users[userID].Posts, posts...)
}

// Published returns what was posted to the Page of the user.
func (f *Fake) Published(userID, pageID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.users[userID].Published[pageID])
}

// Authorize is what the login dialog does when the user accepts: it returns a code for
// the user, valid with the redirect URI the dialog was opened with.
func (f *Fake) Authorize(userID, redirectURI string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	code := fmt.Sprintf("code-%d-%s", f.seq, userID)
	f.codes[code] = codeGrant{userID: userID, redirectURI: redirectURI}
	return code
}

// ExpireTokens makes every token of the user invalid (code 190), as an expired or revoked
// token is.
func (f *Fake) ExpireTokens(userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if t.userID == userID {
			t.dead = true
		}
	}
}

// LiveTokens counts the user's tokens that still work.
func (f *Fake) LiveTokens(userID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.tokens {
		if t.userID == userID && !t.dead {
			n++
		}
	}
	return n
}

// Tokens returns every token issued so far (to look for them where they must not be).
func (f *Fake) Tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for tok := range f.tokens {
		out = append(out, tok)
	}
	return out
}

// FailNext makes the next call to path (as "GET /me/posts") answer with a Graph error of
// the code and HTTP status.
func (f *Fake) FailNext(path string, status, code, subcode int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[path] = append(f.failures[path], failure{status: status, body: errorBody(code, subcode, "OAuthException", message)})
}

// SetUsage sets the X-App-Usage percentages sent from now on (all three counters), and
// a business use case usage header when buc > 0, with regain minutes.
func (f *Fake) SetUsage(app, buc, regainMinutes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appUsage = fmt.Sprintf(`{"call_count":%d,"total_time":%d,"total_cputime":%d}`, app, app, app)
	if buc > 0 {
		f.bucUsage = fmt.Sprintf(`{"112233445566":[{"type":"pages","call_count":%d,"total_cputime":%d,"total_time":%d,"estimated_time_to_regain_access":%d}]}`,
			buc, buc, buc, regainMinutes)
	} else {
		f.bucUsage = ""
	}
}

// Calls returns every request received so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func errorBody(code, subcode int, typ, message string) map[string]any {
	e := map[string]any{"message": message, "type": typ, "code": code, "fbtrace_id": "AbCdEfGhIjK"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	return map[string]any{"error": e}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, errorBody(100, 0, "GraphMethodException", "Unsupported request"))
		return
	}
	version, path, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || !strings.HasPrefix(version, "v") {
		writeJSON(w, 400, errorBody(2500, 0, "OAuthException", "Unknown path components"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " /" + path
	token := r.Form.Get("access_token")
	proof := token != "" && r.Form.Get("appsecret_proof") == facebook.AppSecretProof(f.AppSecret, token)
	f.calls = append(f.calls, Call{Method: r.Method, Path: "/" + path, Token: token, Proof: proof})
	if f.appUsage != "" {
		w.Header().Set("X-App-Usage", f.appUsage)
	}
	if f.bucUsage != "" {
		w.Header().Set("X-Business-Use-Case-Usage", f.bucUsage)
	}
	if q := f.failures[key]; len(q) > 0 {
		f.failures[key] = q[1:]
		writeJSON(w, q[0].status, q[0].body)
		return
	}
	if path == "oauth/access_token" && r.Method == http.MethodGet {
		f.tokenEndpoint(w, r)
		return
	}
	// Every other call needs a valid token and its appsecret_proof.
	info, ok := f.tokens[token]
	switch {
	case token == "":
		writeJSON(w, 400, errorBody(2500, 0, "OAuthException", "An active access token must be used to query information about the current user."))
		return
	case !ok || info.dead:
		writeJSON(w, 400, errorBody(190, 463, "OAuthException", "Error validating access token: Session has expired."))
		return
	case !proof:
		writeJSON(w, 400, errorBody(100, 0, "GraphMethodException", "Invalid appsecret_proof provided in the API argument"))
		return
	}
	user := f.users[info.userID]
	switch {
	case key == "GET /me" && info.pageID == "":
		writeJSON(w, 200, map[string]string{"id": user.ID, "name": user.Name})
	case key == "GET /me/accounts" && info.pageID == "":
		f.accounts(w, r, user)
	case key == "GET /me/posts" && info.pageID == "":
		f.posts(w, r, user)
	case key == "DELETE /me/permissions" && info.pageID == "":
		for _, t := range f.tokens {
			if t.userID == user.ID {
				t.dead = true
			}
		}
		writeJSON(w, 200, map[string]bool{"success": true})
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/feed"):
		pageID := strings.TrimSuffix(path, "/feed")
		if info.pageID != pageID {
			writeJSON(w, 403, errorBody(200, 0, "OAuthException", "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts permission with page token"))
			return
		}
		msg := r.PostForm.Get("message")
		if msg == "" {
			writeJSON(w, 400, errorBody(100, 0, "OAuthException", "(#100) Invalid parameter"))
			return
		}
		user.Published[pageID] = append(user.Published[pageID], msg)
		f.seq++
		writeJSON(w, 200, map[string]string{"id": pageID + "_" + strconv.Itoa(1000+f.seq)})
	default:
		writeJSON(w, 400, errorBody(100, 33, "GraphMethodException", "Unsupported request - method type or object does not exist"))
	}
}

func (f *Fake) newToken(info tokenInfo, prefix string) string {
	f.seq++
	tok := fmt.Sprintf("EAA%s%d%s", prefix, f.seq, strings.Repeat("x", 20))
	f.tokens[tok] = &info
	return tok
}

func (f *Fake) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.Form
	if q.Get("client_id") != f.AppID || q.Get("client_secret") != f.AppSecret {
		writeJSON(w, 400, errorBody(1, 0, "OAuthException", "Error validating client secret."))
		return
	}
	if q.Get("grant_type") == "fb_exchange_token" {
		short, ok := f.tokens[q.Get("fb_exchange_token")]
		if !ok || short.dead || short.pageID != "" {
			writeJSON(w, 400, errorBody(190, 0, "OAuthException", "Invalid OAuth access token."))
			return
		}
		tok := f.newToken(tokenInfo{userID: short.userID, long: true}, "long")
		writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5183944})
		return
	}
	grant, ok := f.codes[q.Get("code")]
	if !ok {
		writeJSON(w, 400, errorBody(100, 36009, "OAuthException", "This authorization code has been used."))
		return
	}
	if grant.redirectURI != q.Get("redirect_uri") {
		writeJSON(w, 400, errorBody(100, 36008, "OAuthException", "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"))
		return
	}
	delete(f.codes, q.Get("code")) // a code works once
	tok := f.newToken(tokenInfo{userID: grant.userID}, "short")
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5400})
}

// cursor encodes a position in a list the way Graph's opaque cursors look.
func cursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("pos:" + strconv.Itoa(i)))
}

func parseCursor(s string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(raw), "pos:") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), "pos:"))
	return n, err == nil && n >= 0
}

// page cuts items [start, start+limit) and writes Graph's answer with cursor paging.
func (f *Fake) page(w http.ResponseWriter, r *http.Request, n int, item func(i int) any) {
	limit := 25
	if l, err := strconv.Atoi(r.Form.Get("limit")); err == nil && l > 0 {
		limit = min(l, 100)
	}
	start := 0
	if a := r.Form.Get("after"); a != "" {
		p, ok := parseCursor(a)
		if !ok {
			writeJSON(w, 400, errorBody(100, 0, "OAuthException", "(#100) The after parameter is not a valid cursor"))
			return
		}
		start = p + 1
	}
	data := []any{}
	end := min(n, start+limit)
	for i := start; i < end; i++ {
		data = append(data, item(i))
	}
	body := map[string]any{"data": data}
	if len(data) > 0 {
		pg := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end - 1)}}
		if end < n {
			next := *r.URL
			q := next.Query()
			q.Set("after", cursor(end-1))
			next.RawQuery = q.Encode()
			pg["next"] = f.URL + next.RequestURI()
		}
		body["paging"] = pg
	}
	writeJSON(w, 200, body)
}

func (f *Fake) accounts(w http.ResponseWriter, r *http.Request, user *User) {
	f.page(w, r, len(user.Pages), func(i int) any {
		p := user.Pages[i]
		tok := ""
		for t, info := range f.tokens {
			if info.pageID == p.ID && info.userID == user.ID && !info.dead {
				tok = t
			}
		}
		if tok == "" {
			tok = f.newToken(tokenInfo{userID: user.ID, pageID: p.ID, long: true}, "page")
		}
		tasks := p.Tasks
		if tasks == nil {
			tasks = []string{"ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"}
		}
		return map[string]any{"id": p.ID, "name": p.Name, "access_token": tok, "category": "Personal blog", "tasks": tasks}
	})
}

func (f *Fake) posts(w http.ResponseWriter, r *http.Request, user *User) {
	posts := slices.Clone(user.Posts)
	if s := r.Form.Get("since"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeJSON(w, 400, errorBody(100, 0, "OAuthException", "(#100) since must be a unix time"))
			return
		}
		since := time.Unix(sec, 0)
		posts = slices.DeleteFunc(posts, func(p facebook.Post) bool { return p.CreatedTime.Before(since) })
	}
	slices.SortStableFunc(posts, func(a, b facebook.Post) int { return b.CreatedTime.Compare(a.CreatedTime.Time) })
	f.page(w, r, len(posts), func(i int) any { return posts[i] })
}
