// Package auth is the auth function: accounts, logins and sessions under /api/v1/auth.
// It signs up users of either tier (generating and wrapping a uce user's master key and
// X25519 key pair), checks passwords, unwraps the uce master key into the session at
// login, issues access tokens (it alone holds the signing key) and rotating refresh
// tokens, spends recovery codes, reports the features of the caller's tier, and rate
// limits password and recovery-code guessing, and signups, in Redis.
package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
)

// Config is the auth function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// ProxyTrust is TRUSTED_PROXIES and TRUSTED_PROXY_HOPS: whose X-Forwarded-For is
	// believed when finding the client address the per-address limits count.
	clientip.ProxyTrust
	// JWTPrivateKey is the standard base64 of the 32-byte Ed25519 seed that signs access
	// tokens. Only this function holds it; it must match JWT_PUBLIC_KEY.
	JWTPrivateKey string `envconfig:"JWT_PRIVATE_KEY" required:"true"`
	// Quota is STORAGE_QUOTA_BYTES, each user's media quota, which /features reports (the
	// media function enforces the same setting).
	storage.Quota
	// Facebook is the Facebook app's settings; /features reports integrations: true only
	// when an app is configured (FACEBOOK_APP_ID), the integrations function's own rule.
	Facebook facebook.Config
	// KDFConcurrency bounds how many Argon2id derivations (64 MiB each) run at once, so a
	// login storm queues instead of exhausting memory.
	KDFConcurrency int `envconfig:"KDF_CONCURRENCY" default:"2"`
	// BcryptConcurrency bounds how many bcrypt hashes and checks (cost 12, a few hundred
	// milliseconds of one core each) run at once, so a login storm queues for a slot
	// (at most bcryptWait, then 503) instead of starving the CPU.
	BcryptConcurrency int `envconfig:"BCRYPT_CONCURRENCY" default:"2"`
	// LoginRateIPLimit is how many attempts (logins and recovery-code checks, counted
	// apart), on any accounts, one client address may make per LoginRateIPWindow; an IPv6
	// client is counted by its /64.
	LoginRateIPLimit int `envconfig:"LOGIN_RATE_IP_LIMIT" default:"10"`
	// LoginRateIPWindow is the fixed window of LoginRateIPLimit, starting at the first
	// attempt.
	LoginRateIPWindow time.Duration `envconfig:"LOGIN_RATE_IP_WINDOW" default:"1m"`
	// LoginFreeFailures is how many failures one address may make on one account before
	// each further attempt from it there has to wait.
	LoginFreeFailures int `envconfig:"LOGIN_FREE_FAILURES" default:"3"`
	// LoginFailureDelay is the first such wait; it doubles with each further failure, up
	// to LoginRateAccountWindow. A success from the address clears its failures.
	LoginFailureDelay time.Duration `envconfig:"LOGIN_FAILURE_DELAY" default:"1s"`
	// LoginRateAccountLimit is the ceiling on failures on one account from all addresses
	// together per LoginRateAccountWindow. Above it, addresses that have not succeeded on
	// the account (within LoginKnownAddressTTL) wait for the window to end; known ones do
	// not, so strangers cannot lock the owner out.
	LoginRateAccountLimit int `envconfig:"LOGIN_RATE_ACCOUNT_LIMIT" default:"5"`
	// LoginRateAccountWindow is the fixed window of LoginRateAccountLimit, starting at the
	// first failure, and the longest delay one address's failures can earn.
	LoginRateAccountWindow time.Duration `envconfig:"LOGIN_RATE_ACCOUNT_WINDOW" default:"15m"`
	// LoginKnownAddressTTL is how long a success (or the signup) from an address keeps it
	// exempt from the account's ceiling; each success renews it.
	LoginKnownAddressTTL time.Duration `envconfig:"LOGIN_KNOWN_ADDRESS_TTL" default:"720h"`
	// SignupRateIPLimit is how many signups one client address (an IPv6 client by its /64)
	// may make per SignupRateIPWindow. Each signup costs bcrypt and Argon2id and tells
	// whether an email is taken, so it is bounded like a login.
	SignupRateIPLimit int `envconfig:"SIGNUP_RATE_IP_LIMIT" default:"20"`
	// SessionMaxAge is a session's absolute lifetime: however often it is refreshed, it
	// ends this long after the login, and the user logs in again.
	SessionMaxAge time.Duration `envconfig:"SESSION_MAX_AGE" default:"2160h"`
	// Sink is where the relay sends the outbox's events (account.deleted): K_SINK, injected
	// by the SinkBinding in the cluster and set by the local runner; empty sends none, and
	// they wait in the outbox for another relay (the janitor's sweep).
	Sink string `envconfig:"K_SINK"`
	// SignupRateIPWindow is the fixed window of SignupRateIPLimit, starting at the first
	// signup.
	SignupRateIPWindow time.Duration `envconfig:"SIGNUP_RATE_IP_WINDOW" default:"1h"`
}

// Function is the auth function in knative/func's shape: New, then Start, Handle, Ready,
// Alive and Stop. Its handler serves the full public paths under /api/v1/auth; the
// embedded Lifecycle provides Handle, Ready, Alive and Stop.
type Function struct {
	platform.Lifecycle
}

// New returns an auth function that is configured by Start.
func New() *Function {
	return &Function{Lifecycle: platform.Lifecycle{Name: "auth"}}
}

// NewWithServices returns an auth function that is ready to serve with already connected
// services, for tests and the in-process gateway. logger may be nil for slog.Default();
// the caller keeps ownership of svc. An error names the setting at fault.
func NewWithServices(cfg Config, svc *platform.Services, logger *slog.Logger) (*Function, error) {
	h, relay, err := newHandler(cfg, svc, logger)
	if err != nil {
		return nil, err
	}
	f := New()
	relay.Start()
	f.Serve(h, svc, false, relay.Stop)
	return f, nil
}

// newHandler builds the function's routes over svc, and the outbox relay they wake (not
// yet started).
func newHandler(cfg Config, svc *platform.Services, logger *slog.Logger) (http.Handler, *outbox.Relay, error) {
	s, err := newServer(cfg, svc)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	return routes(s, svc, logger), s.relay, nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("auth: start: %w", err)
	}
	// Check the auth settings before connecting, so a bad key is reported as such rather
	// than hidden behind a connection error.
	if _, err := cfg.parse(); err != nil {
		return fmt.Errorf("auth: start: %w", err)
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("auth: start: %w", err)
	}
	h, relay, err := newHandler(cfg, svc, nil)
	if err != nil {
		svc.Close()
		return fmt.Errorf("auth: start: %w", err)
	}
	relay.Start()
	f.Serve(h, svc, true, relay.Stop)
	return nil
}
