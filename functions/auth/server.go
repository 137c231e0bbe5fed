package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/token"
)

// server holds what the handlers need: the connections, the token issuer, the bounded
// KDF, the rate limiter and the parsed settings.
type server struct {
	db       *pgxpool.Pool
	sessions *session.Store
	issuer   *token.Issuer
	kdf      *crypto.KDF
	limiter  *rateLimiter
	proxies  []netip.Prefix
	quota    int64
}

// settings are the parts of Config that need parsing, checked once.
type settings struct {
	signingKey ed25519.PrivateKey
	limiterKey []byte
	proxies    []netip.Prefix
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
	for _, p := range c.TrustedProxies {
		prefix, err := parsePrefix(strings.TrimSpace(p))
		if err != nil {
			return s, errors.New("TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR prefixes")
		}
		s.proxies = append(s.proxies, prefix)
	}
	if err := c.Quota.Validate(); err != nil {
		return s, err
	}
	switch {
	case c.KDFConcurrency <= 0:
		return s, errors.New("KDF_CONCURRENCY must be positive")
	case c.LoginRateIPLimit <= 0:
		return s, errors.New("LOGIN_RATE_IP_LIMIT must be positive")
	case c.LoginRateIPWindow <= 0:
		return s, errors.New("LOGIN_RATE_IP_WINDOW must be a positive duration")
	case c.LoginRateAccountLimit <= 0:
		return s, errors.New("LOGIN_RATE_ACCOUNT_LIMIT must be positive")
	case c.LoginRateAccountWindow <= 0:
		return s, errors.New("LOGIN_RATE_ACCOUNT_WINDOW must be a positive duration")
	case c.SignupRateIPLimit <= 0:
		return s, errors.New("SIGNUP_RATE_IP_LIMIT must be positive")
	case c.SignupRateIPWindow <= 0:
		return s, errors.New("SIGNUP_RATE_IP_WINDOW must be a positive duration")
	}
	return s, nil
}

// parsePrefix reads "10.0.0.0/8" or a single address "10.1.2.3".
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func newServer(cfg Config, svc *platform.Services) (*server, error) {
	s, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	return &server{
		db:       svc.DB,
		sessions: svc.Sessions,
		issuer:   token.NewIssuer(s.signingKey, cfg.JWTIssuer, cfg.JWTAudience),
		kdf:      crypto.NewKDF(cfg.KDFConcurrency),
		limiter: &rateLimiter{
			rdb:     svc.Redis,
			key:     s.limiterKey,
			ip:      limit{max: cfg.LoginRateIPLimit, window: cfg.LoginRateIPWindow},
			account: limit{max: cfg.LoginRateAccountLimit, window: cfg.LoginRateAccountWindow},
			signup:  limit{max: cfg.SignupRateIPLimit, window: cfg.SignupRateIPWindow},
		},
		proxies: s.proxies,
		quota:   cfg.QuotaBytes,
	}, nil
}

// redisFailure marks an unexpected error from Redis (through the session store or the
// limiter) as an outage, which httpapi.Fail answers with 503 and Retry-After rather than
// 500, unless the request itself was canceled.
func redisFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return outage.Mark(err)
}
