package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// loopbackOnly is a dialer that refuses every address but loopback: whatever URL the API
// hands out (a presigned S3 URL included), this tool sends nothing elsewhere. With a valid
// source it connects from that (loopback) address.
func loopbackOnly(source netip.Addr) *net.Dialer {
	d := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("chaos: refusing to connect to %s: not loopback", address)
			}
			return nil
		},
	}
	if source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: source.AsSlice()}
	}
	return d
}

// checkLoopbackURL refuses a URL whose host is not a loopback address or localhost.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Unmap().IsLoopback() {
		return fmt.Errorf("%s is not on loopback: scripts/chaos only sends traffic to this machine", raw)
	}
	return nil
}

// newHTTPClient is an HTTP client of this tool: loopback only, from source when it is
// valid. Requests are bounded by api.call's timeouts, not by the client.
func newHTTPClient(conns int, source netip.Addr) *http.Client {
	tr := &http.Transport{
		DialContext:         loopbackOnly(source).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// userSource is the loopback address user i connects from: each simulated user has an
// address of its own, as real users do, so the per-address limits on logins and signups
// (LOGIN_RATE_IP_LIMIT, SIGNUP_RATE_IP_LIMIT) count each user apart.
func userSource(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}) }

// loginTimeout bounds a login or signup: the server may queue it up to 10 s for a bcrypt
// slot and 5 s for an Argon2id slot (BCRYPT_WAIT, KDF_WAIT) before it answers 503, so a
// client that gave up sooner would only add to a login storm.
const loginTimeout = 30 * time.Second

// recorder keeps every request the clients sent, and when each client last had a 2xx
// from the API.
type recorder struct {
	mu     sync.Mutex
	reqs   []request
	lastOK map[int]time.Time
}

func (r *recorder) add(q request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, q)
	if q.ok() && !q.direct() {
		if r.lastOK == nil {
			r.lastOK = map[int]time.Time{}
		}
		r.lastOK[q.client] = q.end
	}
}

// allServedSince reports whether each of the clients 0..n-1 has had a 2xx that ended
// after t.
func (r *recorder) allServedSince(t time.Time, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		if !r.lastOK[i].After(t) {
			return false
		}
	}
	return true
}

// clientKey carries the id of the client a request is sent for.
type clientKey struct{}

// withClient marks ctx as the client id's, for the records of its requests (a login is
// recorded for the client that needed it).
func withClient(ctx context.Context, id int) context.Context {
	return context.WithValue(ctx, clientKey{}, id)
}

func clientOf(ctx context.Context) int {
	if id, ok := ctx.Value(clientKey{}).(int); ok {
		return id
	}
	return -1
}

func (r *recorder) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// api calls the diary API at base, each call bounded by timeout, recording each in rec
// (nil: not recorded, for the set-up and the verification).
type api struct {
	base    string
	http    *http.Client
	rec     *recorder
	timeout time.Duration
}

// answer is an API response, read whole.
type answer struct {
	status     int
	retryAfter bool
	header     http.Header
	body       []byte
}

// call sends one request: JSON in (when in is not nil), the answer read whole. A
// transport error is returned as status 0 with the error.
func (a *api) call(ctx context.Context, op, method, path, token string, in any, header map[string]string) (answer, error) {
	timeout := a.timeout
	if op == opLogin || op == opSignup {
		timeout = max(timeout, loginTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	var dialStart, dialDone, firstByte time.Time
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { dialStart = time.Now() },
		ConnectDone:          func(string, string, error) { dialDone = time.Now() },
		GotFirstResponseByte: func() { firstByte = time.Now() },
	}))
	resp, err := a.http.Do(req)
	var ans answer
	if err == nil {
		ans.body, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		ans.status, ans.header = resp.StatusCode, resp.Header
		ans.retryAfter = resp.Header.Get("Retry-After") != ""
		if err != nil {
			ans.status = 0
		}
	}
	if a.rec != nil && !errors.Is(ctx.Err(), context.Canceled) {
		q := request{client: clientOf(ctx), op: op, start: start, end: time.Now(), status: ans.status, retryAfter: ans.retryAfter}
		if !dialStart.IsZero() && !dialDone.IsZero() {
			q.connect = dialDone.Sub(dialStart)
		}
		if !firstByte.IsZero() {
			q.wait = firstByte.Sub(start)
		}
		a.rec.add(q)
	}
	return ans, err
}

// ok reports a 2xx.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// decode reads the answer's JSON body into v.
func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("answer %d: %w", a.status, err)
	}
	return nil
}

// account is one test user, kept in the state dir across runs so that repeated runs do not
// run into the signup rate limit (SIGNUP_RATE_IP_LIMIT).
type account struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	Tier      string `json:"tier"`
	PublicKey string `json:"public_key,omitempty"` // e2e: the X25519 key registered at signup
}

// user is an account with its current session, shared by the clients that write as it.
type user struct {
	account
	api       *api // from this user's own loopback address
	mu        sync.Mutex
	access    string
	gen       int       // bumped at every new session
	notBefore time.Time // a 429's Retry-After: no login before then
}

// token returns the access token and its generation.
func (u *user) token() (string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.access, u.gen
}

// relogin logs in again unless another client already did since generation gen (one
// login per lost session, however many clients saw the 401).
func (u *user) relogin(ctx context.Context, gen int) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.gen != gen && u.access != "" {
		return nil
	}
	if time.Now().Before(u.notBefore) {
		return &statusError{http.StatusTooManyRequests}
	}
	return u.loginLocked(ctx)
}

func (u *user) loginLocked(ctx context.Context) error {
	ans, err := u.api.call(ctx, opLogin, http.MethodPost, "/auth/login", "", map[string]string{"email": u.Email, "password": u.Password}, nil)
	if err != nil {
		return err
	}
	if ans.status == http.StatusTooManyRequests {
		// A client honours the rate limit's Retry-After (seconds).
		secs, _ := strconv.Atoi(ans.header.Get("Retry-After"))
		u.notBefore = time.Now().Add(time.Duration(max(secs, 1)) * time.Second)
	}
	if !ans.ok() {
		return &statusError{ans.status}
	}
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := ans.decode(&s); err != nil || s.AccessToken == "" {
		return fmt.Errorf("login answer without a token: %v", err)
	}
	u.access = s.AccessToken
	u.gen++
	return nil
}

// statusError is an answer that was not the one wanted.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("answered %d", e.status) }

// isStatus reports whether err is a statusError with that status.
func isStatus(err error, status int) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == status
}

// signup creates the account on the server and logs it in.
func (u *user) signup(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	in := map[string]string{"email": u.Email, "password": u.Password, "encryption_tier": u.Tier}
	if u.Tier == "e2e" {
		in["public_key"] = u.PublicKey
	}
	ans, err := u.api.call(ctx, opSignup, http.MethodPost, "/auth/signup", "", in, nil)
	if err != nil {
		return err
	}
	if ans.status != http.StatusCreated {
		return fmt.Errorf("signup %s: answered %d: %s", u.Email, ans.status, truncate(ans.body))
	}
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := ans.decode(&s); err != nil {
		return err
	}
	u.access = s.AccessToken
	u.gen++
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// newAccount makes the credentials of a fresh test account of the tier.
func newAccount(tier string) (account, error) {
	acc := account{Email: "chaos-" + randHex(8) + "@example.com", Password: "chaos-" + randHex(16), Tier: tier}
	if tier == "e2e" {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return account{}, err
		}
		acc.PublicKey = base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
	}
	return acc, nil
}

// loadUsers logs in the accounts kept in file (signing up those missing or no longer
// known to the server) until there are n, half uce and half e2e, and saves the list. User
// i calls the API through apiFor(i).
func loadUsers(ctx context.Context, apiFor func(int) *api, file string, n int) ([]*user, error) {
	var kept []account
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &kept); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	users := make([]*user, n)
	for i := range n {
		tier := "uce"
		if i%2 == 1 {
			tier = "e2e"
		}
		if i < len(kept) && kept[i].Tier == tier {
			u := &user{account: kept[i], api: apiFor(i)}
			u.mu.Lock()
			err := u.loginLocked(ctx)
			u.mu.Unlock()
			if err == nil {
				users[i] = u
				continue
			}
			if !isStatus(err, http.StatusUnauthorized) {
				return nil, fmt.Errorf("log in %s: %w", u.Email, err)
			}
		}
		acc, err := newAccount(tier)
		if err != nil {
			return nil, err
		}
		u := &user{account: acc, api: apiFor(i)}
		if err := u.signup(ctx); err != nil {
			return nil, err
		}
		users[i] = u
	}
	accs := make([]account, len(users))
	for i, u := range users {
		accs[i] = u.account
	}
	if len(kept) > len(accs) {
		accs = append(accs, kept[len(accs):]...)
	}
	b, _ := json.MarshalIndent(accs, "", "  ")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	return users, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
