// Package session owns login sessions in Redis: who the session belongs to, the hash of its
// current refresh token, the hashes of the refresh tokens it already spent, and, for uce
// users, the master key sealed under the server's session key. Nothing secret is stored in
// the clear, and losing Redis only logs people out.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/outage"
)

// RefreshTTL is how long a refresh token, and so an idle session, lives.
const RefreshTTL = 30 * 24 * time.Hour

// ErrNotFound is returned for a session that does not exist, expired or was revoked.
var ErrNotFound = errors.New("session: not found")

// ErrInvalidRefresh is returned for a refresh token that is malformed or unknown.
var ErrInvalidRefresh = errors.New("session: invalid refresh token")

// ErrRefreshReused is returned when a spent refresh token is presented again; the session
// has been revoked by then.
var ErrRefreshReused = errors.New("session: refresh token reused, session revoked")

// ErrNoMasterKey is returned when a session holds no master key (e2e, or a uce session
// created without one).
var ErrNoMasterKey = errors.New("session: no master key in session")

// Session is the public view of a login session.
type Session struct {
	ID        string
	UserID    string
	Tier      string
	CreatedAt time.Time
	sealedKey []byte
}

// Store keeps sessions in Redis.
type Store struct {
	rdb        *redis.Client
	sessionKey []byte
}

// NewStore returns a Store; sessionKey (32 bytes) seals the uce master keys.
func NewStore(rdb *redis.Client, sessionKey []byte) (*Store, error) {
	if len(sessionKey) != crypto.KeySize {
		return nil, fmt.Errorf("session: session key must be %d bytes", crypto.KeySize)
	}
	return &Store{rdb: rdb, sessionKey: sessionKey}, nil
}

func sessionRedisKey(id string) string { return "sess:" + id }
func spentRedisKey(id string) string   { return "sess:" + id + ":spent" }

func masterKeyAD(userID, sessionID string) crypto.AD {
	return crypto.AD{Owner: userID, Record: sessionID, Purpose: "session-master-key"}
}

// newRefreshSecret returns a refresh token for the session and the hash that is stored.
func newRefreshSecret(sessionID string) (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("session: random: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return sessionID + "." + secret, hashSecret(secret), nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte("diary-refresh-v1:" + secret))
	return hex.EncodeToString(sum[:])
}

// Create starts a session for the user and returns it with its first refresh token.
// masterKey is nil for e2e users.
func (s *Store) Create(ctx context.Context, userID, tier string, masterKey []byte) (Session, string, error) {
	id := uuid.NewString()
	refresh, hash, err := newRefreshSecret(id)
	if err != nil {
		return Session{}, "", err
	}
	now := time.Now().UTC()
	fields := map[string]any{
		"user_id":      userID,
		"tier":         tier,
		"refresh_hash": hash,
		"created_at":   now.Format(time.RFC3339Nano),
	}
	var sealed []byte
	if masterKey != nil {
		sealed, err = crypto.Seal(s.sessionKey, masterKey, masterKeyAD(userID, id))
		if err != nil {
			return Session{}, "", fmt.Errorf("session: seal master key: %w", err)
		}
		fields["master_key"] = base64.StdEncoding.EncodeToString(sealed)
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, sessionRedisKey(id), fields)
	pipe.Expire(ctx, sessionRedisKey(id), RefreshTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return Session{}, "", redisError("create", err)
	}
	return Session{ID: id, UserID: userID, Tier: tier, CreatedAt: now, sealedKey: sealed}, refresh, nil
}

// Get returns the live session with the id.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Session{}, ErrNotFound
	}
	vals, err := s.rdb.HGetAll(ctx, sessionRedisKey(id)).Result()
	if err != nil {
		return Session{}, redisError("get", err)
	}
	if len(vals) == 0 || vals["user_id"] == "" {
		return Session{}, ErrNotFound
	}
	sess := Session{ID: id, UserID: vals["user_id"], Tier: vals["tier"]}
	sess.CreatedAt, _ = time.Parse(time.RFC3339Nano, vals["created_at"])
	if mk := vals["master_key"]; mk != "" {
		sess.sealedKey, err = base64.StdEncoding.DecodeString(mk)
		if err != nil {
			return Session{}, errors.New("session: get: corrupt sealed key")
		}
	}
	return sess, nil
}

// MasterKey unseals the uce master key held by the session. The caller keeps it in memory
// only for the request that needs it.
func (s *Store) MasterKey(sess Session) ([]byte, error) {
	if len(sess.sealedKey) == 0 {
		return nil, ErrNoMasterKey
	}
	key, err := crypto.Open(s.sessionKey, sess.sealedKey, masterKeyAD(sess.UserID, sess.ID))
	if err != nil {
		return nil, fmt.Errorf("session: open master key: %w", err)
	}
	return key, nil
}

// rotateScript swaps the current refresh hash for a new one atomically. It answers 1 when
// rotated, 0 when the session or token is unknown, and -1 when the token was already spent,
// in which case it deletes the session.
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'refresh_hash')
if not cur then return 0 end
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return -1
end
return 0
`)

// Rotate spends a refresh token and returns its session with the next refresh token.
// Presenting a spent token revokes the whole session (ErrRefreshReused).
func (s *Store) Rotate(ctx context.Context, refresh string) (Session, string, error) {
	id, secret, ok := strings.Cut(refresh, ".")
	if !ok || secret == "" {
		return Session{}, "", ErrInvalidRefresh
	}
	if _, err := uuid.Parse(id); err != nil {
		return Session{}, "", ErrInvalidRefresh
	}
	next, nextHash, err := newRefreshSecret(id)
	if err != nil {
		return Session{}, "", err
	}
	res, err := rotateScript.Run(ctx, s.rdb,
		[]string{sessionRedisKey(id), spentRedisKey(id)},
		hashSecret(secret), nextHash, int(RefreshTTL.Seconds())).Int()
	if err != nil {
		return Session{}, "", redisError("rotate", err)
	}
	switch res {
	case 1:
		sess, err := s.Get(ctx, id)
		if err != nil {
			return Session{}, "", err
		}
		return sess, next, nil
	case -1:
		return Session{}, "", ErrRefreshReused
	default:
		return Session{}, "", ErrInvalidRefresh
	}
}

// Revoke ends the session at once: its access and refresh tokens stop working.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, sessionRedisKey(id), spentRedisKey(id)).Err(); err != nil {
		return redisError("revoke", err)
	}
	return nil
}

// redisError marks a failure to reach Redis as an outage, so httpapi.Fail answers 503 with
// Retry-After instead of 500.
func redisError(op string, err error) error {
	return outage.Mark(fmt.Errorf("session: %s: %w", op, err))
}
