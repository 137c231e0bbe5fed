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
)

// Rate-limit scopes: login and recovery-code checks are counted apart, so exhausting one
// does not lock the other.
const (
	scopeLogin    = "login"
	scopeRecovery = "recovery"
)

// rateLimiter bounds password and recovery-code guessing with fixed windows in Redis:
// every attempt from one client address counts against ipLimit per ipWindow, and every
// attempt against one account counts against accountLimit per accountWindow until a
// success clears it. Attempts are counted before the work is done, atomically, so a burst
// of parallel guesses cannot slip past the limit. Addresses and emails appear in Redis
// keys only as keyed hashes.
type rateLimiter struct {
	rdb           *redis.Client
	key           []byte
	ipLimit       int
	ipWindow      time.Duration
	accountLimit  int
	accountWindow time.Duration
}

// hitScript counts one attempt against the address (KEYS[1]) and, unless that is already
// over its limit, the account (KEYS[2]). A window starts with its first attempt. It
// answers {0, 0} to go ahead, or {1 or 2, milliseconds until the exceeded window ends}.
var hitScript = redis.NewScript(`
local function hit(key, window, limit)
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  if n > tonumber(limit) then return math.max(ttl, 1) end
  return 0
end
local wait = hit(KEYS[1], ARGV[1], ARGV[2])
if wait > 0 then return {1, wait} end
wait = hit(KEYS[2], ARGV[3], ARGV[4])
if wait > 0 then return {2, wait} end
return {0, 0}
`)

// allow counts an attempt by the client at ip on the account named by email, and returns
// a 429 error with Retry-After when either is over its limit.
func (l *rateLimiter) allow(ctx context.Context, scope string, ip netip.Addr, email string) error {
	res, err := hitScript.Run(ctx, l.rdb,
		[]string{l.redisKey(scope, "ip", addressBucket(ip)), l.redisKey(scope, "account", normalizeEmail(email))},
		l.ipWindow.Milliseconds(), l.ipLimit, l.accountWindow.Milliseconds(), l.accountLimit,
	).Int64Slice()
	if err != nil {
		return redisFailure(ctx, fmt.Errorf("auth: rate limit: %w", err))
	}
	if len(res) != 2 {
		return fmt.Errorf("auth: rate limit: unexpected answer of %d values", len(res))
	}
	if res[0] != 0 {
		return rateLimited(time.Duration(res[1]) * time.Millisecond)
	}
	return nil
}

// succeeded clears the account's count after a correct password or recovery code, so a
// user's own earlier typos do not lock them out later.
func (l *rateLimiter) succeeded(ctx context.Context, scope, email string) error {
	if err := l.rdb.Del(ctx, l.redisKey(scope, "account", normalizeEmail(email))).Err(); err != nil {
		return redisFailure(ctx, fmt.Errorf("auth: rate limit: reset: %w", err))
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
