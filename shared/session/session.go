// Package session owns login sessions in Redis: who the session belongs to, the hash of its
// current refresh token, the hashes of the refresh tokens it already spent, and, for uce
// users, the master key sealed under the server's session key. Nothing secret is stored in
// the clear, and losing Redis only logs people out.
//
// Every record carries a MAC under a key derived from the session key, over everything that
// decides what the session may do: its id, user, tier, refresh hash, creation and expiry
// times and sealed key. Someone who can write to Redis but does not hold SESSION_KEY cannot
// forge a session, move one to another user or id, or keep one alive past its expiry; a
// record that does not verify is treated as no session at all. Records written before the
// MAC existed do not verify either, so deploying it logs every user out once.
//
// A session lives at most RefreshTTL past its last refresh and never longer than the
// store's absolute lifetime (WithMaxAge, DefaultMaxAge) past its creation: expires_at, which
// the MAC covers, is never set past created_at plus that lifetime. Each user's session ids
// are also listed in a Redis set, so the user's sessions can be listed and all revoked at
// once (password change, reset, logout everywhere, account deletion). The set and the
// informational last_used_at and user_agent fields, and the sess:<id>:used key (the time
// of use, written at most once a minute, see Get), are not covered by the MAC: they decide nothing about what a session may do.
// A set member whose record is gone, or belongs to someone else, is ignored and dropped.
package session

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/outage"
)

// RefreshTTL is how long a refresh token, and so an idle session, lives.
const RefreshTTL = 30 * 24 * time.Hour

// DefaultMaxAge is the absolute lifetime of a session unless WithMaxAge says otherwise:
// past it, refreshing fails and the user logs in again, however active the session was.
const DefaultMaxAge = 90 * 24 * time.Hour

// touchInterval is how stale last_used_at may get before Get writes it again: the one
// write a request may cause, at most once a minute per session.
const touchInterval = time.Minute

// maxUserAgentBytes bounds the User-Agent kept with a session, to show in the session list.
const maxUserAgentBytes = 256

// ErrNotFound is returned for a session that does not exist, expired or was revoked.
var ErrNotFound = errors.New("session: not found")

// ErrInvalidRefresh is returned for a refresh token that is malformed or unknown.
var ErrInvalidRefresh = errors.New("session: invalid refresh token")

// ErrRefreshReused is returned when a spent refresh token is presented again; the session
// has been revoked by then.
var ErrRefreshReused = errors.New("session: refresh token reused, session revoked")

// ErrTampered is in the chain of the ErrNotFound or ErrInvalidRefresh returned for a record
// whose MAC does not verify: it was forged or changed in Redis (or written before records
// carried a MAC). Callers answer it as not authenticated and may log it as a warning.
var ErrTampered = errors.New("session: record failed its integrity check")

// ErrNoMasterKey is returned when a session holds no master key (e2e, or a uce session
// created without one).
var ErrNoMasterKey = errors.New("session: no master key in session")

// Session is the public view of a login session.
type Session struct {
	ID        string
	UserID    string
	Tier      string
	CreatedAt time.Time
	// ExpiresAt is when the session ends unless its refresh token is used before (never
	// after CreatedAt plus the store's absolute lifetime).
	ExpiresAt time.Time
	// LastUsedAt is when the session last authenticated a request or was refreshed, to
	// within a minute (touchInterval).
	LastUsedAt time.Time
	// UserAgent is the User-Agent of the request that opened the session, cut to 256
	// bytes; empty when it sent none.
	UserAgent string
	sealedKey []byte
}

// Store keeps sessions in Redis.
type Store struct {
	rdb        *redis.Client
	sessionKey []byte
	macKey     []byte
	maxAge     time.Duration
	now        func() time.Time
	// cache, when StartCache ran, keeps verified sessions for a few seconds (cache.go).
	cache *cache
}

// recordMACInfo is the HKDF info of the key that MACs session records, so that key is
// never the one that seals master keys.
const recordMACInfo = "diary-session-record-mac-v1"

// NewStore returns a Store; sessionKey (32 bytes) seals the uce master keys, and a key
// derived from it MACs every session record.
func NewStore(rdb *redis.Client, sessionKey []byte) (*Store, error) {
	if len(sessionKey) != crypto.KeySize {
		return nil, fmt.Errorf("session: session key must be %d bytes", crypto.KeySize)
	}
	macKey, err := hkdf.Key(sha256.New, sessionKey, nil, recordMACInfo, crypto.KeySize)
	if err != nil {
		return nil, fmt.Errorf("session: derive record key: %w", err)
	}
	return &Store{rdb: rdb, sessionKey: sessionKey, macKey: macKey, maxAge: DefaultMaxAge, now: time.Now}, nil
}

// WithMaxAge returns a copy of s whose new and refreshed sessions end at the latest maxAge
// after their creation (SESSION_MAX_AGE in the auth function, which alone creates and
// refreshes sessions). Every store enforces what the records say, whatever its own setting.
func (s *Store) WithMaxAge(maxAge time.Duration) (*Store, error) {
	if maxAge <= 0 {
		return nil, errors.New("session: the absolute lifetime must be positive")
	}
	c := *s
	c.maxAge = maxAge
	return &c, nil
}

// record is a session as stored in the Redis hash sess:<id>: each field exactly as stored,
// so the MAC is computed over the very strings Redis holds.
type record struct {
	id          string // from the key name, not a field: a record moved to another key fails
	userID      string
	tier        string
	refreshHash string
	createdAt   string // RFC 3339 with nanoseconds, UTC
	expiresAt   string // RFC 3339 with nanoseconds, UTC; the authority, the Redis TTL only collects
	masterKey   string // standard base64 of the sealed key; empty for e2e
	mac         string // standard base64 of HMAC-SHA256 under the record key
	// Informational, outside the MAC: they decide nothing.
	lastUsedAt string // RFC 3339 with nanoseconds, UTC: the login or the last refresh
	userAgent  string
	usedAt     string // from the key sess:<id>:used, not the hash: the last use, to a minute
}

// recordMACLabel starts the MAC input; a new record layout gets a new label.
const recordMACLabel = "diary-session-record-v1"

// sum returns the record's MAC: HMAC-SHA256 over the label and every field but the MAC, in a
// fixed order, each behind a 4-byte length so no two records share an input.
func (r record) sum(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(recordMACLabel))
	writeFields(m, r.id, r.userID, r.tier, r.refreshHash, r.createdAt, r.expiresAt, r.masterKey)
	return m.Sum(nil)
}

// writeFields writes each field behind its 4-byte length, so no two lists of fields (say
// "a","bc" and "ab","c") write the same bytes.
func writeFields(h hash.Hash, fields ...string) {
	var n [4]byte
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
}

func (r *record) sign(key []byte) { r.mac = base64.StdEncoding.EncodeToString(r.sum(key)) }

func (r record) verify(key []byte) bool {
	got, err := base64.StdEncoding.DecodeString(r.mac)
	return err == nil && hmac.Equal(got, r.sum(key))
}

func (r record) fields() map[string]any {
	f := map[string]any{
		"user_id":      r.userID,
		"tier":         r.tier,
		"refresh_hash": r.refreshHash,
		"created_at":   r.createdAt,
		"expires_at":   r.expiresAt,
		"mac":          r.mac,
		"last_used_at": r.lastUsedAt,
		"user_agent":   r.userAgent,
	}
	if r.masterKey != "" {
		f["master_key"] = r.masterKey
	}
	return f
}

func recordOf(id string, vals map[string]string) record {
	return record{id: id, userID: vals["user_id"], tier: vals["tier"], refreshHash: vals["refresh_hash"],
		createdAt: vals["created_at"], expiresAt: vals["expires_at"], masterKey: vals["master_key"], mac: vals["mac"],
		lastUsedAt: vals["last_used_at"], userAgent: vals["user_agent"]}
}

// session parses a verified record.
func (r record) session() (Session, error) {
	sess := Session{ID: r.id, UserID: r.userID, Tier: r.tier, UserAgent: r.userAgent}
	var errC, errE, errK error
	sess.CreatedAt, errC = time.Parse(time.RFC3339Nano, r.createdAt)
	sess.ExpiresAt, errE = time.Parse(time.RFC3339Nano, r.expiresAt)
	if r.masterKey != "" {
		sess.sealedKey, errK = base64.StdEncoding.DecodeString(r.masterKey)
	}
	if err := errors.Join(errC, errE, errK); err != nil {
		return Session{}, fmt.Errorf("session: corrupt record: %w", err)
	}
	// Not covered by the MAC: a missing or odd value shows the creation time instead.
	sess.LastUsedAt = sess.CreatedAt
	for _, v := range []string{r.lastUsedAt, r.usedAt} {
		if used, err := time.Parse(time.RFC3339Nano, v); err == nil && used.After(sess.LastUsedAt) {
			sess.LastUsedAt = used
		}
	}
	return sess, nil
}

func sessionRedisKey(id string) string { return "sess:" + id }
func spentRedisKey(id string) string   { return "sess:" + id + ":spent" }

// usedRedisKey names the time the session was last used (a string), apart from the record
// so that functions allowed only to read sessions may be allowed to write it alone.
func usedRedisKey(id string) string { return "sess:" + id + ":used" }

// userRedisKey names the set of the user's session ids.
func userRedisKey(userID string) string { return "user-sessions:" + userID }

func masterKeyAD(userID, sessionID string) crypto.AD {
	return crypto.AD{Owner: userID, Record: sessionID, Purpose: "session-master-key"}
}

// newRefreshSecret returns a refresh token for the user's session and the hash that is
// stored.
func newRefreshSecret(userID, sessionID string) (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("session: random: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return sessionID + "." + secret, hashRefresh(userID, sessionID, secret), nil
}

// hashRefresh is the stored form of a refresh secret. It binds the user and the session, so
// a hash copied into another session's record, or another user's, matches no token.
func hashRefresh(userID, sessionID, secret string) string {
	h := sha256.New()
	h.Write([]byte("diary-refresh-v2"))
	writeFields(h, userID, sessionID, secret)
	return hex.EncodeToString(h.Sum(nil))
}

// Create starts a session for the user and returns it with its first refresh token.
// masterKey is nil for e2e users.
func (s *Store) Create(ctx context.Context, userID, tier string, masterKey []byte) (Session, string, error) {
	return s.CreateFrom(ctx, userID, tier, masterKey, "")
}

// CreateFrom is Create for a session opened by a client that sent userAgent (its
// User-Agent header, kept cut to 256 bytes so the user can tell their sessions apart).
func (s *Store) CreateFrom(ctx context.Context, userID, tier string, masterKey []byte, userAgent string) (Session, string, error) {
	id := uuid.NewString()
	refresh, hash, err := newRefreshSecret(userID, id)
	if err != nil {
		return Session{}, "", err
	}
	now := s.now().UTC()
	ttl := min(RefreshTTL, s.maxAge)
	rec := record{id: id, userID: userID, tier: tier, refreshHash: hash,
		createdAt: now.Format(time.RFC3339Nano), expiresAt: now.Add(ttl).Format(time.RFC3339Nano),
		lastUsedAt: now.Format(time.RFC3339Nano), userAgent: cutUserAgent(userAgent)}
	if masterKey != nil {
		sealed, err := crypto.Seal(s.sessionKey, masterKey, masterKeyAD(userID, id))
		if err != nil {
			return Session{}, "", fmt.Errorf("session: seal master key: %w", err)
		}
		rec.masterKey = base64.StdEncoding.EncodeToString(sealed)
	}
	rec.sign(s.macKey)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, sessionRedisKey(id), rec.fields())
	pipe.Expire(ctx, sessionRedisKey(id), ttl)
	// The set outlives every member: none lives past its creation plus maxAge.
	pipe.SAdd(ctx, userRedisKey(userID), id)
	pipe.Expire(ctx, userRedisKey(userID), s.maxAge)
	if _, err := pipe.Exec(ctx); err != nil {
		return Session{}, "", redisError("create", err)
	}
	sess, err := rec.session()
	if err != nil {
		return Session{}, "", err
	}
	return sess, refresh, nil
}

// cutUserAgent keeps at most maxUserAgentBytes of ua, cut on a rune boundary.
func cutUserAgent(ua string) string {
	if len(ua) <= maxUserAgentBytes {
		return strings.ToValidUTF8(ua, "")
	}
	ua = ua[:maxUserAgentBytes]
	for len(ua) > 0 && !utf8.ValidString(ua) {
		ua = ua[:len(ua)-1]
	}
	return ua
}

// Get returns the live session with the id. A record that fails its MAC answers
// ErrNotFound (with ErrTampered in the chain), like a session that does not exist.
//
// Get also records that the session was used: when its last_used_at is a minute old or
// more it writes the time, so a busy session costs one write a minute, not one a request.
// That write is best effort: when it fails the request goes on and the list shows an
// older time.
//
// With a cache (StartCache) a session verified in the last few seconds is answered from
// memory; every revocation reaches the caches before it returns (cache.go). A record
// changed or deleted in Redis by anything but this package's revocations is seen once the
// cached copy expires.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	if s.cache != nil {
		if sess, ok := s.cache.get(id); ok {
			s.touch(ctx, &sess)
			return sess, nil
		}
	}
	var ticket cacheTicket
	if s.cache != nil {
		ticket = s.cache.begin()
	}
	rec, err := s.load(ctx, id)
	if err != nil {
		return Session{}, err
	}
	sess, err := rec.session()
	if err != nil {
		return Session{}, err
	}
	if s.cache != nil {
		s.cache.put(ticket, sess)
	}
	s.touch(ctx, &sess)
	return sess, nil
}

// touch writes the time of use when the session's is a minute old or more.
func (s *Store) touch(ctx context.Context, sess *Session) {
	now := s.now().UTC()
	if now.Sub(sess.LastUsedAt) < touchInterval {
		return
	}
	// A SET of its own key, never the record: it cannot bring a revoked session back,
	// and one that races a revocation only leaves a key that expires with the session.
	ttl := max(sess.ExpiresAt.Sub(now), time.Second)
	if s.rdb.Set(ctx, usedRedisKey(sess.ID), now.Format(time.RFC3339Nano), ttl).Err() == nil {
		sess.LastUsedAt = now
		if s.cache != nil {
			s.cache.touched(sess.ID, now)
		}
	}
}

// load reads the record of the session id and returns it only if its MAC verifies and it
// has not expired; otherwise ErrNotFound.
func (s *Store) load(ctx context.Context, id string) (record, error) {
	if _, err := uuid.Parse(id); err != nil {
		return record{}, ErrNotFound
	}
	pipe := s.rdb.Pipeline()
	hash := pipe.HGetAll(ctx, sessionRedisKey(id))
	used := pipe.Get(ctx, usedRedisKey(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return record{}, redisError("get", err)
	}
	vals := hash.Val()
	if len(vals) == 0 {
		return record{}, ErrNotFound
	}
	rec := recordOf(id, vals)
	rec.usedAt = used.Val()
	if !rec.verify(s.macKey) {
		return record{}, fmt.Errorf("%w: %w", ErrNotFound, ErrTampered)
	}
	exp, err := time.Parse(time.RFC3339Nano, rec.expiresAt)
	if err != nil || !s.now().Before(exp) {
		return record{}, ErrNotFound
	}
	return rec, nil
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

// rotateScript spends the current refresh token and detects reuse, in one step. Redis cannot
// check a MAC (the key must not be there), so Go verifies the record first and the script
// compares and swaps against what Go verified:
//
//	KEYS[1] the session, KEYS[2] its spent hashes
//	ARGV[1] the presented token's hash
//	ARGV[2] the MAC of the record Go verified, or "" when ARGV[1] is not that record's
//	        current hash (then only reuse is looked for)
//	ARGV[3..5] the next refresh hash, expiry and MAC, computed in Go; ARGV[6] the TTL
//	ARGV[7] the time, for last_used_at
//
// It answers 1 when rotated, 0 when the session or token is unknown, and -1 when the token
// was already spent, in which case it deletes the session.
//
// Why this is sound: the new MAC covers only values Go read and verified plus the new hash
// and expiry, so a field changed in Redis between the read and the script leaves a record
// that fails its next check instead of one that carries a MAC over the change. Go passes
// ARGV[2] only after comparing the presented hash with the verified one: the script alone
// would accept a refresh_hash swapped in after the read. Requiring the MAC to be unchanged
// makes the swap fail when anything rotated the record meanwhile.
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'refresh_hash')
if not cur then return 0 end
if ARGV[2] ~= '' and cur == ARGV[1] and redis.call('HGET', KEYS[1], 'mac') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[3], 'expires_at', ARGV[4], 'mac', ARGV[5], 'last_used_at', ARGV[7])
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  return 1
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return -1
end
return 0
`)

// Rotate spends a refresh token and returns its session with the next refresh token.
// Presenting a spent token revokes the whole session (ErrRefreshReused). A record that
// fails its MAC answers ErrInvalidRefresh (with ErrTampered in the chain) and is left alone.
func (s *Store) Rotate(ctx context.Context, refresh string) (Session, string, error) {
	id, secret, ok := cut(refresh)
	if !ok {
		return Session{}, "", ErrInvalidRefresh
	}
	cur, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if errors.Is(err, ErrTampered) {
			return Session{}, "", fmt.Errorf("%w: %w", ErrInvalidRefresh, ErrTampered)
		}
		return Session{}, "", ErrInvalidRefresh
	}
	if err != nil {
		return Session{}, "", err
	}
	return s.rotate(ctx, cur, secret)
}

// cut splits a refresh token into its session id and secret.
func cut(refresh string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(refresh, ".")
	if _, err := uuid.Parse(id); err != nil || !ok || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// rotate runs rotateScript for the verified record cur and the presented secret.
func (s *Store) rotate(ctx context.Context, cur record, secret string) (Session, string, error) {
	presented := hashRefresh(cur.userID, cur.id, secret)
	expectMAC := ""
	if hmac.Equal([]byte(presented), []byte(cur.refreshHash)) {
		expectMAC = cur.mac
	}
	next := cur
	refresh, nextHash, err := newRefreshSecret(cur.userID, cur.id)
	if err != nil {
		return Session{}, "", err
	}
	// A refresh renews the session for RefreshTTL, but never past its absolute end.
	created, err := time.Parse(time.RFC3339Nano, cur.createdAt)
	if err != nil {
		return Session{}, "", fmt.Errorf("session: corrupt record: %w", err)
	}
	now := s.now().UTC()
	expires := now.Add(RefreshTTL)
	if end := created.Add(s.maxAge); end.Before(expires) {
		expires = end
	}
	if !now.Before(expires) {
		return Session{}, "", ErrInvalidRefresh
	}
	next.refreshHash = nextHash
	next.expiresAt = expires.UTC().Format(time.RFC3339Nano)
	next.sign(s.macKey)
	ttl := int(math.Ceil(expires.Sub(now).Seconds()))
	res, err := rotateScript.Run(ctx, s.rdb,
		[]string{sessionRedisKey(cur.id), spentRedisKey(cur.id)},
		presented, expectMAC, next.refreshHash, next.expiresAt, next.mac, ttl, now.Format(time.RFC3339Nano)).Int()
	if err != nil {
		return Session{}, "", redisError("rotate", err)
	}
	if res == 1 || res == -1 {
		// Rotated (the cached copy's expiry is stale) or revoked for reuse.
		if err := s.announce(ctx, invalidateSession, cur.id); err != nil {
			return Session{}, "", err
		}
	}
	switch res {
	case 1:
		next.lastUsedAt = now.Format(time.RFC3339Nano)
		sess, err := next.session()
		if err != nil {
			return Session{}, "", err
		}
		return sess, refresh, nil
	case -1:
		return Session{}, "", ErrRefreshReused
	default:
		return Session{}, "", ErrInvalidRefresh
	}
}

// Revoke ends the session at once: its access and refresh tokens stop working.
func (s *Store) Revoke(ctx context.Context, id string) error {
	userID, err := s.rdb.HGet(ctx, sessionRedisKey(id), "user_id").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return redisError("revoke", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, sessionRedisKey(id), spentRedisKey(id), usedRedisKey(id))
	if userID != "" {
		pipe.SRem(ctx, userRedisKey(userID), id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return redisError("revoke", err)
	}
	return s.announce(ctx, invalidateSession, id)
}

// revokeOwnedScript deletes the session KEYS[1] (with its spent hashes KEYS[2] and its
// time of use KEYS[4]) only when it belongs to the user ARGV[1], and drops the id ARGV[2]
// from the user's set KEYS[3] either way. It answers 1 when it deleted a session.
var revokeOwnedScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'user_id')
redis.call('SREM', KEYS[3], ARGV[2])
if owner == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
  return 1
end
return 0
`)

func (s *Store) revokeOwned(ctx context.Context, userID, id string) (bool, error) {
	n, err := revokeOwnedScript.Run(ctx, s.rdb,
		[]string{sessionRedisKey(id), spentRedisKey(id), userRedisKey(userID), usedRedisKey(id)}, userID, id).Int()
	if err != nil {
		return false, redisError("revoke", err)
	}
	return n == 1, nil
}

// RevokeOwned ends the user's session id at once. A session that is not the user's live
// session (another user's, expired, unknown) is ErrNotFound and is left alone.
func (s *Store) RevokeOwned(ctx context.Context, userID, id string) error {
	rec, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if rec.userID != userID {
		return ErrNotFound
	}
	if _, err := s.revokeOwned(ctx, userID, id); err != nil {
		return err
	}
	return s.announce(ctx, invalidateSession, id)
}

// RevokeUser ends every session of the user at once, except the session except (empty
// for none), and returns how many it ended. A session opened while it runs may survive
// it: callers that must exclude those (a password change, a deletion) make new sessions
// check the account after they are stored, see the auth function.
func (s *Store) RevokeUser(ctx context.Context, userID, except string) (int, error) {
	ids, err := s.rdb.SMembers(ctx, userRedisKey(userID)).Result()
	if err != nil {
		return 0, redisError("revoke user", err)
	}
	n := 0
	for _, id := range ids {
		if id == except {
			continue
		}
		ok, err := s.revokeOwned(ctx, userID, id)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	// The user's every session, except included: a cache that drops one session too many
	// only reads it again.
	if err := s.announce(ctx, invalidateUser, userID); err != nil {
		return n, err
	}
	return n, nil
}

// List returns the user's live sessions, newest first. Ids in the user's set whose record
// is gone are dropped from it.
func (s *Store) List(ctx context.Context, userID string) ([]Session, error) {
	ids, err := s.rdb.SMembers(ctx, userRedisKey(userID)).Result()
	if err != nil {
		return nil, redisError("list", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	used := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, sessionRedisKey(id))
		used[i] = pipe.Get(ctx, usedRedisKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, redisError("list", err)
		}
	}
	now := s.now()
	var live []Session
	var gone []any
	for i, id := range ids {
		vals := cmds[i].Val()
		if len(vals) == 0 {
			gone = append(gone, id)
			continue
		}
		rec := recordOf(id, vals)
		rec.usedAt = used[i].Val()
		if _, err := uuid.Parse(id); err != nil || !rec.verify(s.macKey) || rec.userID != userID {
			continue
		}
		sess, err := rec.session()
		if err != nil || !now.Before(sess.ExpiresAt) {
			continue
		}
		live = append(live, sess)
	}
	if len(gone) > 0 {
		if err := s.rdb.SRem(ctx, userRedisKey(userID), gone...).Err(); err != nil {
			return nil, redisError("list", err)
		}
	}
	slices.SortFunc(live, func(a, b Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return live, nil
}

// redisError wraps a failure to reach Redis with outage.ErrUnavailable, so httpapi.Fail
// answers 503 with Retry-After instead of 500.
func redisError(op string, err error) error {
	return fmt.Errorf("session: %s: %w: %w", op, outage.ErrUnavailable, err)
}
