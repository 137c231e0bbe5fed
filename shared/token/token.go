// Package token owns the access tokens: Ed25519-signed JWTs issued by the auth function
// alone and verified everywhere else with only the public key. The algorithm is pinned, and
// issuer, audience, expiry and the session id are always checked, and a token has exactly
// one valid spelling.
package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// AccessTTL is how long an access token lives.
const AccessTTL = 15 * time.Minute

// ErrInvalid is returned for every token that must not be accepted; the reason stays in
// the wrapped chain for logs and never reaches a client.
var ErrInvalid = errors.New("token: invalid access token")

// Claims are the fields of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID ties the token to a live session, so logout revokes it at once.
	SessionID string `json:"sid"`
	// Tier is the user's encryption tier, "e2e" or "uce".
	Tier string `json:"tier"`
}

// Issuer signs access tokens. Only the auth function holds one.
type Issuer struct {
	key      ed25519.PrivateKey
	issuer   string
	audience string
	now      func() time.Time
}

// NewIssuer returns an Issuer for the Ed25519 private key.
func NewIssuer(key ed25519.PrivateKey, issuer, audience string) *Issuer {
	return &Issuer{key: key, issuer: issuer, audience: audience, now: time.Now}
}

// Issue signs an access token for the user's session and returns it with its expiry.
func (i *Issuer) Issue(userID, sessionID, tier string) (string, time.Time, error) {
	now := i.now().UTC()
	exp := now.Add(AccessTTL)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		SessionID: sessionID,
		Tier:      tier,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: sign: %w", err)
	}
	return signed, exp, nil
}

// Verifier checks access tokens with the public key only.
type Verifier struct {
	key    ed25519.PublicKey
	parser *jwt.Parser
	cache  *verifiedCache
}

// NewVerifier returns a Verifier that accepts only EdDSA tokens from issuer for audience.
func NewVerifier(key ed25519.PublicKey, issuer, audience string) *Verifier {
	return &Verifier{
		key: key,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(5*time.Second),
			// Strict decoding refuses non-zero trailing bits, so each segment has one
			// spelling; the signature segment would otherwise have sixteen.
			jwt.WithStrictDecoding(),
		),
		cache: newVerifiedCache(verifiedCacheSize),
	}
}

// Verify parses and checks a token and returns its claims. A token that verified before
// is answered from a small cache until it expires: the Ed25519 check is most of the CPU
// an authenticated read costs. The cache is keyed by the token's SHA-256, holds no token,
// and never outlives the token; revocation is the session check's job, not this one's.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	key := sha256.Sum256([]byte(raw))
	if c, ok := v.cache.get(key, time.Now()); ok {
		return c, nil
	}
	claims, err := v.verify(raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, claims)
	return claims, nil
}

func (v *Verifier) verify(raw string) (*Claims, error) {
	if !isCompactJWS(raw) {
		return nil, fmt.Errorf("%w: characters outside the base64url alphabet", ErrInvalid)
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
			return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
		}
		return v.key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: missing sub or sid", ErrInvalid)
	}
	if claims.Tier != "e2e" && claims.Tier != "uce" {
		return nil, fmt.Errorf("%w: unknown tier", ErrInvalid)
	}
	return claims, nil
}

// isCompactJWS reports whether raw holds only base64url characters and dots. Go's base64
// decoder skips CR and LF even in strict mode, so without this check a line break inside the
// signature segment would be another valid spelling of the same token.
func isCompactJWS(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// ParsePrivateKey decodes a standard-base64 32-byte Ed25519 seed (the JWT_PRIVATE_KEY
// setting) into a private key.
func ParsePrivateKey(b64 string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("token: private key must be the standard base64 of a 32-byte Ed25519 seed")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey decodes a standard-base64 32-byte Ed25519 public key (JWT_PUBLIC_KEY).
func ParsePublicKey(b64 string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("token: public key must be the standard base64 of a 32-byte Ed25519 key")
	}
	return ed25519.PublicKey(raw), nil
}
