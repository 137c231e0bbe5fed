package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/clientip"
	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/token"
)

// server holds what the handlers need: the connections, the token issuer, bcrypt and the
// KDF under their bounds and how long to wait for each, the rate limiter, the client
// address resolver and the quota.
type server struct {
	db         *pgxpool.Pool
	sessions   *session.Store
	issuer     *token.Issuer
	passwords  *crypto.Passwords
	bcryptWait time.Duration
	kdf        *crypto.KDF
	kdfWait    time.Duration
	limiter    *rateLimiter
	clients    *clientip.Resolver
	quota      int64
	// integrations says whether a Facebook app is configured (/features).
	integrations bool
	// pending is the intake marker a uce login restores (shared/intake).
	pending *intake.Pending
	// relay sends the account.deleted events deleteAccount writes to the outbox.
	relay *outbox.Relay
}

// settings are the parts of Config that need parsing, checked once.
type settings struct {
	signingKey ed25519.PrivateKey
	limiterKey []byte
	clients    *clientip.Resolver
}

// parse checks the auth function's own settings; an error names the variable, never
// its value.
func (c Config) parse() (settings, error) {
	var s settings
	key, err := token.ParsePrivateKey(c.JWTPrivateKey)
	if err != nil {
		return s, fmt.Errorf("JWT_PRIVATE_KEY: %w", err)
	}
	pub, err := token.ParsePublicKey(c.JWTPublicKey)
	if err != nil {
		return s, fmt.Errorf("JWT_PUBLIC_KEY: %w", err)
	}
	if !bytes.Equal(key.Public().(ed25519.PublicKey), pub) {
		return s, errors.New("JWT_PRIVATE_KEY does not match JWT_PUBLIC_KEY: the tokens it signs would be refused")
	}
	s.signingKey = key
	sessionKey, err := base64.StdEncoding.DecodeString(c.SessionKey)
	if err != nil || len(sessionKey) != crypto.KeySize {
		return s, errors.New("SESSION_KEY must be the standard base64 of 32 bytes")
	}
	// The rate limiter names accounts and addresses in Redis by a keyed hash, so the keys
	// reveal neither; its key is derived from the session key, for a separate purpose.
	s.limiterKey, err = hkdf.Key(sha256.New, sessionKey, nil, "diary-auth-rate-limit-v1", 32)
	if err != nil {
		return s, fmt.Errorf("SESSION_KEY: derive rate limit key: %w", err)
	}
	if s.clients, err = c.Resolver(); err != nil {
		return s, err
	}
	if err := c.Quota.Validate(); err != nil {
		return s, err
	}
	switch {
	case c.KDFConcurrency <= 0:
		return s, errors.New("KDF_CONCURRENCY must be positive")
	case c.BcryptConcurrency <= 0:
		return s, errors.New("BCRYPT_CONCURRENCY must be positive")
	case c.LoginRateIPLimit <= 0:
		return s, errors.New("LOGIN_RATE_IP_LIMIT must be positive")
	case c.LoginRateIPWindow <= 0:
		return s, errors.New("LOGIN_RATE_IP_WINDOW must be a positive duration")
	case c.LoginRateAccountLimit <= 0:
		return s, errors.New("LOGIN_RATE_ACCOUNT_LIMIT must be positive")
	case c.LoginRateAccountWindow <= 0:
		return s, errors.New("LOGIN_RATE_ACCOUNT_WINDOW must be a positive duration")
	case c.LoginFreeFailures < 0:
		return s, errors.New("LOGIN_FREE_FAILURES must be 0 or more")
	case c.LoginFailureDelay <= 0:
		return s, errors.New("LOGIN_FAILURE_DELAY must be a positive duration")
	case c.LoginKnownAddressTTL <= 0:
		return s, errors.New("LOGIN_KNOWN_ADDRESS_TTL must be a positive duration")
	case c.SignupRateIPLimit <= 0:
		return s, errors.New("SIGNUP_RATE_IP_LIMIT must be positive")
	case c.SignupRateIPWindow <= 0:
		return s, errors.New("SIGNUP_RATE_IP_WINDOW must be a positive duration")
	case c.SessionMaxAge < time.Hour:
		return s, errors.New("SESSION_MAX_AGE must be a duration of an hour or more")
	}
	return s, nil
}

func newServer(cfg Config, svc *platform.Services) (*server, error) {
	s, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	// The auth function creates and refreshes every session, so its store alone needs the
	// absolute lifetime: the records it writes carry it to every other function.
	sessions, err := svc.Sessions.WithMaxAge(cfg.SessionMaxAge)
	if err != nil {
		return nil, fmt.Errorf("SESSION_MAX_AGE: %w", err)
	}
	relay, err := outbox.NewRelay(svc.DB, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return nil, err
	}
	return &server{
		db:         svc.DB,
		sessions:   sessions,
		relay:      relay,
		issuer:     token.NewIssuer(s.signingKey, cfg.JWTIssuer, cfg.JWTAudience),
		passwords:  crypto.NewPasswords(crypto.NewBound(cfg.BcryptConcurrency)),
		bcryptWait: bcryptWait,
		kdf:        crypto.NewKDF(cfg.KDFConcurrency),
		kdfWait:    kdfWait,
		limiter: &rateLimiter{
			rdb:          svc.Redis,
			key:          s.limiterKey,
			ip:           limit{max: cfg.LoginRateIPLimit, window: cfg.LoginRateIPWindow},
			signup:       limit{max: cfg.SignupRateIPLimit, window: cfg.SignupRateIPWindow},
			account:      limit{max: cfg.LoginRateAccountLimit, window: cfg.LoginRateAccountWindow},
			freeFailures: cfg.LoginFreeFailures,
			failureDelay: cfg.LoginFailureDelay,
			knownTTL:     cfg.LoginKnownAddressTTL,
			now:          time.Now,
		},
		clients:      s.clients,
		quota:        cfg.QuotaBytes,
		integrations: cfg.Facebook.Configured(),
		pending:      intake.NewPending(svc.Redis),
	}, nil
}
