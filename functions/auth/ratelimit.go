package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/outage"
)

// Rate-limit scopes: login and recovery-code checks are counted apart, so exhausting one
// does not lock the other; signups have a count of their own.
const (
	scopeLogin    = "login"
	scopeRecovery = "recovery"
	scopeSignup   = "signup"
)

// rateLimiter bounds password and recovery-code guessing, and signups, with fixed windows
// in Redis: every login or recovery attempt from one client address counts against ip,
// and every one against one account counts against account until a success clears it;
// every signup from one client address counts against signup, since each costs bcrypt
// and Argon2id and tells whether an email is taken. Attempts are counted before the work
// is done, atomically, so a burst of parallel requests cannot slip past the limit.
// Addresses and emails appear in Redis keys only as keyed hashes.
type rateLimiter struct {
	rdb     *redis.Client
	key     []byte
	ip      limit
	account limit
	signup  limit
}

// limit is a fixed window: at most max hits per window, which starts at the first hit.
type limit struct {
	max    int
	window time.Duration
}

// counter is one count to hit: its Redis key and its limit.
type counter struct {
	key   string
	limit limit
}

// hitScript counts one hit against each key in turn (KEYS[i], with the window ARGV[2i-1]
// in milliseconds and the limit ARGV[2i]), stopping at the first that is over its limit,
// so an address already refused does not also use up the account's count. It answers 0
// to go ahead, or the milliseconds until the exceeded window ends.
var hitScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  local window, limit = ARGV[2*i-1], tonumber(ARGV[2*i])
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  if n > limit then return math.max(ttl, 1) end
end
return 0
`)

// hit counts a hit against each counter, and returns a 429 error with Retry-After when
// one is over its limit.
func (l *rateLimiter) hit(ctx context.Context, counters ...counter) error {
	keys := make([]string, 0, len(counters))
	args := make([]any, 0, 2*len(counters))
	for _, c := range counters {
		keys = append(keys, c.key)
		args = append(args, c.limit.window.Milliseconds(), c.limit.max)
	}
	wait, err := hitScript.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return fmt.Errorf("auth: rate limit: %w: %w", outage.ErrUnavailable, err)
	}
	if wait > 0 {
		return rateLimited(time.Duration(wait) * time.Millisecond)
	}
	return nil
}

// allow counts a login or recovery-code attempt by the client at ip on the account named
// by email, and returns a 429 error with Retry-After when either is over its limit.
func (l *rateLimiter) allow(ctx context.Context, scope string, ip netip.Addr, email string) error {
	return l.hit(ctx,
		counter{l.redisKey(scope, "ip", addressBucket(ip)), l.ip},
		counter{l.redisKey(scope, "account", normalizeEmail(email)), l.account})
}

// allowSignup counts a signup by the client at ip, and returns a 429 error with
// Retry-After when the address is over its limit.
func (l *rateLimiter) allowSignup(ctx context.Context, ip netip.Addr) error {
	return l.hit(ctx, counter{l.redisKey(scopeSignup, "ip", addressBucket(ip)), l.signup})
}

// succeeded clears the account's count after a correct password or recovery code, so a
// user's own earlier typos do not lock them out later.
func (l *rateLimiter) succeeded(ctx context.Context, scope, email string) error {
	if err := l.rdb.Del(ctx, l.redisKey(scope, "account", normalizeEmail(email))).Err(); err != nil {
		return fmt.Errorf("auth: rate limit: reset: %w: %w", outage.ErrUnavailable, err)
	}
	return nil
}

// redisKey names a counter by an HMAC of what it counts, so Redis holds no email or
// address in the clear, nor an unkeyed hash that a dictionary of emails would reverse.
func (l *rateLimiter) redisKey(scope, kind, id string) string {
	mac := hmac.New(sha256.New, l.key)
	mac.Write([]byte(scope + "\x00" + kind + "\x00" + id))
	return "ratelimit:" + scope + ":" + kind + ":" + hex.EncodeToString(mac.Sum(nil)[:16])
}

func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// addressBucket is what the per-address limit counts: an IPv4 address, or the /64 of an
// IPv6 address, since one client usually holds a whole /64.
func addressBucket(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}
