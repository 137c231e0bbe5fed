package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// harness is an auth function on the test services.
type harness struct {
	h   http.Handler
	svc *platform.Services
	cfg Config
}

// newHarness starts the function on the services scripts/test provides, with the
// settings overridden by the "NAME", "value" pairs. logger may be nil for slog.Default().
func newHarness(t testing.TB, logger *slog.Logger, overrides ...string) harness {
	t.Helper()
	env := testenv.Env(t)
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	svc := testenv.Services(t)
	f, err := NewWithServices(cfg, svc, logger)
	if err != nil {
		t.Fatalf("NewWithServices() = %v", err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) }) // its relay, before svc closes
	return harness{h: http.HandlerFunc(f.Handle), svc: svc, cfg: cfg}
}

// rebuilt returns h's function served by a server built here and changed by edit first,
// for tests that reach into it (a bound to hold, a wait to change). logger may be nil for
// slog.Default().
func (h harness) rebuilt(t testing.TB, logger *slog.Logger, edit func(*server)) http.Handler {
	t.Helper()
	s, err := newServer(h.cfg, h.svc)
	if err != nil {
		t.Fatalf("newServer() = %v", err)
	}
	edit(s)
	return routes(s, h.svc, logger)
}

// randomIP returns a documentation IPv6 address in a /64 of its own, so tests that count
// attempts per address never share a counter, even across runs.
func randomIP(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("2001:db8:%x:%x:%x::1", binary.BigEndian.Uint16(b[:2]), binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint16(b[4:6]))
}

func randomEmail() string {
	return "auth-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16] + "@example.test"
}

// do sends a request to h from the client address ip (the connection's peer), like
// testenv.Do otherwise.
func do(t testing.TB, h http.Handler, ip, method, path, accessToken string, body any, headers ...string) testenv.Response {
	t.Helper()
	from := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "[" + ip + "]:41000"
		h.ServeHTTP(w, r)
	})
	return testenv.Do(t, from, method, path, accessToken, body, headers...)
}

// apiUser, apiSession, apiSignup and apiPair are the answers as a client decodes them.
type apiUser struct {
	ID             string `json:"id"`
	Email          string `json:"email"`
	EncryptionTier string `json:"encryption_tier"`
	PublicKey      string `json:"public_key"`
	CreatedAt      string `json:"created_at"`
}

type apiPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

type apiSession struct {
	User apiUser `json:"user"`
	apiPair
}

type apiSignup struct {
	apiSession
	RecoveryCodes []string `json:"recovery_codes"`
}

type apiError struct {
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields"`
}

// account is a user created through the signup endpoint (or by insertAccount).
type account struct {
	Email    string
	Password string
	ip       string
	// sentKey is the public key an e2e signup sent; before is a time just before signup.
	sentKey string
	before  time.Time
	apiSignup
}

// signup creates an account of the tier through the API (an e2e one with a fresh X25519
// public key) and fails the test unless it answers 201.
func signup(t testing.TB, h harness, tier string) account {
	t.Helper()
	a := account{Email: "Mixed.Case-" + randomEmail(), Password: "correct horse " + uuid.NewString()[:8], ip: randomIP(t),
		before: time.Now().Add(-time.Second)}
	body := map[string]any{"email": a.Email, "password": a.Password, "encryption_tier": tier}
	if tier == "e2e" {
		a.sentKey = newPublicKey(t)
		body["public_key"] = a.sentKey
	}
	resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/signup", "", body)
	if resp.Code != http.StatusCreated {
		t.Fatalf("POST /signup (%s) = %d %s, want 201", tier, resp.Code, resp.Body)
	}
	resp.JSON(t, &a.apiSignup)
	return a
}

// login logs the account in from its own address and fails the test unless it answers 200.
func login(t testing.TB, h harness, a account) apiSession {
	t.Helper()
	resp := do(t, h.h, a.ip, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	if resp.Code != http.StatusOK {
		t.Fatalf("POST /login = %d %s, want 200", resp.Code, resp.Body)
	}
	var s apiSession
	resp.JSON(t, &s)
	return s
}

// sessionMasterKey returns the master key the session behind an access token holds.
func sessionMasterKey(t testing.TB, h harness, accessToken string) []byte {
	t.Helper()
	claims, err := h.svc.Verifier.Verify(accessToken)
	if err != nil {
		t.Fatalf("Verify(access token) = %v", err)
	}
	sess, err := h.svc.Sessions.Get(context.Background(), claims.SessionID)
	if err != nil {
		t.Fatalf("Sessions.Get() = %v", err)
	}
	key, err := h.svc.Sessions.MasterKey(sess)
	if err != nil {
		t.Fatalf("Sessions.MasterKey() = %v", err)
	}
	return key
}

// assertError checks an answer's status and that its body is the error shape with code.
func assertError(t testing.TB, resp testenv.Response, status int, code string) apiError {
	t.Helper()
	if resp.Code != status {
		t.Fatalf("status = %d %s, want %d", resp.Code, resp.Body, status)
	}
	if ct := resp.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var shape map[string]any
	resp.JSON(t, &shape)
	for k := range shape {
		if k != "detail" && k != "code" && k != "fields" {
			t.Errorf("error body has key %q: %s", k, resp.Body)
		}
	}
	var e apiError
	resp.JSON(t, &e)
	if e.Code != code || e.Detail == "" {
		t.Errorf("error body = %s, want code %q and a detail", resp.Body, code)
	}
	return e
}

// testPassword is the password of every account insertAccount makes. Its bcrypt hash is
// computed once: under the race detector one cost-12 hash takes seconds.
const testPassword = "the test password, long enough"

var testPasswordHash = sync.OnceValues(func() (string, error) {
	return crypto.NewPasswords(nil).Hash(context.Background(), testPassword)
})

// insertAccount stores an account the way signup does (the same key wrapping and
// recovery-code rows, through the package's own store functions) but with a password
// hash computed once, and opens a session for it. Tests of what follows signup use it to
// avoid a bcrypt per account; tests of signup itself go through the API.
func insertAccount(t testing.TB, h harness, tier string) account {
	t.Helper()
	ctx := context.Background()
	hash, err := testPasswordHash()
	if err != nil {
		t.Fatalf("HashPassword() = %v", err)
	}
	u := user{ID: uuid.NewString(), Email: randomEmail(), PasswordHash: hash, Tier: tier}
	var masterKey []byte
	if tier == "uce" {
		if masterKey, err = crypto.NewKey(); err != nil {
			t.Fatal(err)
		}
		keys, err := newUCEKeys(ctx, crypto.NewKDF(1), u.ID, testPassword, masterKey)
		if err != nil {
			t.Fatalf("newUCEKeys() = %v", err)
		}
		u.KDFSalt, u.WrappedMasterKey, u.PublicKey, u.WrappedPrivateKey = keys.kdfSalt, keys.wrappedMasterKey, keys.publicKey, keys.wrappedPrivateKey
	} else {
		pub, _, err := crypto.GenerateX25519()
		if err != nil {
			t.Fatal(err)
		}
		u.PublicKey = pub
	}
	codes, rows, err := newRecoveryCodes(u.ID, masterKey)
	if err != nil {
		t.Fatalf("newRecoveryCodes() = %v", err)
	}
	err = store.Transact(ctx, h.svc.DB, func(tx pgx.Tx) error {
		created, err := insertUser(ctx, tx, u)
		if err != nil {
			return err
		}
		u.CreatedAt = created
		return insertRecoveryCodes(ctx, tx, rows)
	})
	if err != nil {
		t.Fatalf("insert account: %v", err)
	}
	a := account{Email: u.Email, Password: testPassword, ip: randomIP(t)}
	a.User = apiUser{ID: u.ID, Email: u.Email, EncryptionTier: tier,
		PublicKey: base64.StdEncoding.EncodeToString(u.PublicKey), CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339Nano)}
	a.RecoveryCodes = codes
	a.apiPair = newSession(t, h, u.ID, tier, masterKey)
	return a
}

// newSession opens a session for the user as login does and returns its tokens.
func newSession(t testing.TB, h harness, userID, tier string, masterKey []byte) apiPair {
	t.Helper()
	sess, refresh, err := h.svc.Sessions.Create(context.Background(), userID, tier, masterKey)
	if err != nil {
		t.Fatalf("Sessions.Create() = %v", err)
	}
	access, _, err := testenv.Issuer(t).Issue(userID, sess.ID, tier)
	if err != nil {
		t.Fatalf("Issue() = %v", err)
	}
	return apiPair{AccessToken: access, RefreshToken: refresh, TokenType: "bearer", ExpiresIn: 900}
}

// sharedAccounts are one account per tier made through the signup API once per test
// binary, for tests that only read them or add sessions to them. A test that spends
// recovery codes, locks an account or logs a session out makes its own.
var sharedAccounts sync.Map // tier -> *sharedAccountOnce

type sharedAccountOnce struct {
	once sync.Once
	a    account
	ok   bool
}

func sharedAccount(t testing.TB, h harness, tier string) account {
	t.Helper()
	v, _ := sharedAccounts.LoadOrStore(tier, &sharedAccountOnce{})
	s := v.(*sharedAccountOnce)
	s.once.Do(func() {
		s.a = signup(t, h, tier)
		s.ok = true
	})
	if !s.ok {
		t.Fatalf("the shared %s account could not be made", tier)
	}
	return s.a
}
