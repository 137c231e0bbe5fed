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

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/outage"
)

// Rate-limit scopes: login and recovery-code checks are counted apart, so exhausting one
// does not lock the other; signups have a count of their own.
const (
	scopeLogin    = "login"
	scopeRecovery = "recovery"
	scopeSignup   = "signup"
)

// rateLimiter bounds password and recovery-code guessing, and signups, in Redis. The
// policy (README, "Login protection"):
//   - every attempt from one client address counts against ip, whatever the account, in
//     a fixed window: this bounds what one address costs us and how many accounts it
//     tries;
//   - each failure from one address on one account makes that address wait before its
//     next attempt there, with a delay that doubles per failure after the first few, up
//     to the account window; a success from the address clears its failures. Other
//     addresses are not slowed by it, so strangers cannot lock the owner out;
//   - failures on one account from every address together have a ceiling per account
//     window, against a brute force spread over many addresses; above it, addresses that
//     have never succeeded on the account wait for the window to end, while addresses the
//     owner has logged in from (known for knownTTL after each success) go on.
//
// An attempt is counted as a failure before the password is checked, atomically, so a
// burst of parallel requests cannot slip past a limit; a success, or an attempt that got
// no answer (a full bcrypt bound), takes the count back. Addresses and emails appear in
// Redis keys only as keyed hashes.
type rateLimiter struct {
	rdb *redis.Client
	key []byte
	// ip counts every attempt per address; signup every signup per address.
	ip     limit
	signup limit
	// account is the ceiling: failures per account, from all addresses, per window. The
	// window also caps each address's delay.
	account limit
	// freeFailures is how many failures an address makes on an account before it has to
	// wait; failureDelay the first wait, doubled for each further failure.
	freeFailures int
	failureDelay time.Duration
	// knownTTL is how long a success keeps an address exempt from the ceiling.
	knownTTL time.Duration
	// now is the clock of the failure delays (tests set it).
	now func() time.Time
}

// limit is a fixed window: at most max hits per window, which starts at the first hit.
type limit struct {
	max    int
	window time.Duration
}

// luaHit is the fixed-window count both scripts share: hit(key, window ms, limit) counts
// one hit and answers the milliseconds until the window ends when the count is over the
// limit, else 0.
const luaHit = `
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
`

// hitScript counts one hit against KEYS[1] (window ARGV[1] ms, limit ARGV[2]) and answers
// 0 to go ahead or the milliseconds until the window ends.
var hitScript = redis.NewScript(luaHit + `return hit(KEYS[1], ARGV[1], ARGV[2])`)

// beginScript admits or refuses one login or recovery-code attempt and, when admitted,
// counts it as a failure until settleScript says otherwise. KEYS: the address's attempts,
// the (account, address) failures (a hash: n failures, the last at "at" ms), the
// account's failures, and the (account, address) known mark. ARGV: now ms, address
// window ms, address limit, free failures, first delay ms, account window ms, account
// limit. It answers 0 to go ahead, or the milliseconds to wait.
var beginScript = redis.NewScript(luaHit + `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[6])
local wait = hit(KEYS[1], ARGV[2], ARGV[3])
if wait > 0 then return wait end
local free, first = tonumber(ARGV[4]), tonumber(ARGV[5])
local function delay(failures)
  if failures < free then return 0 end
  return math.min(first * 2 ^ (failures - free), window)
end
local failures = tonumber(redis.call('HGET', KEYS[2], 'n') or 0)
local last = tonumber(redis.call('HGET', KEYS[2], 'at') or 0)
wait = last + delay(failures) - now
if wait > 0 then return math.ceil(wait) end
local total = tonumber(redis.call('GET', KEYS[3]) or 0)
if total >= tonumber(ARGV[7]) and redis.call('EXISTS', KEYS[4]) == 0 then
  local left = redis.call('PTTL', KEYS[3])
  if left < 0 then
    redis.call('PEXPIRE', KEYS[3], window)
    left = window
  end
  return math.max(left, 1)
end
redis.call('HSET', KEYS[2], 'n', failures + 1, 'at', now)
redis.call('PEXPIRE', KEYS[2], math.ceil(delay(failures + 1)) + window)
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], window) end
return 0
`)

// settleScript takes back the failure beginScript counted, for an attempt that did not
// fail. KEYS: the (account, address) failures, the account's failures, the known mark.
// ARGV[1] is the known mark's lifetime in ms after a success, or 0 for an attempt that
// got no answer: that one only gives its count back, a success also clears the
// address's failures on the account and marks the address known.
var settleScript = redis.NewScript(`
if tonumber(ARGV[1]) > 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
elseif redis.call('HINCRBY', KEYS[1], 'n', -1) <= 0 then
  redis.call('DEL', KEYS[1])
end
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
return 0
`)

// settleTimeout bounds abandon's Redis call, which outlives the request it settles.
const settleTimeout = 2 * time.Second

// attempt is a login or recovery-code check the limiter admitted. It counts as a failure
// unless settled with succeeded or abandon.
type attempt struct {
	l                    *rateLimiter
	pair, account, known string
}

// begin admits an attempt by the client at ip on the account named by email, or returns
// a 429 error with Retry-After.
func (l *rateLimiter) begin(ctx context.Context, scope string, ip netip.Addr, email string) (*attempt, error) {
	email, bucket := normalizeEmail(email), addressBucket(ip)
	a := &attempt{
		l:       l,
		pair:    l.redisKey(scope, "pair", email+"\x00"+bucket),
		account: l.redisKey(scope, "account", email),
		known:   l.knownKey(email, bucket),
	}
	keys := []string{l.redisKey(scope, "ip", bucket), a.pair, a.account, a.known}
	wait, err := beginScript.Run(ctx, l.rdb, keys,
		l.now().UnixMilli(), l.ip.window.Milliseconds(), l.ip.max,
		l.freeFailures, l.failureDelay.Milliseconds(), l.account.window.Milliseconds(), l.account.max).Int64()
	if err != nil {
		return nil, fmt.Errorf("auth: rate limit: %w: %w", outage.ErrUnavailable, err)
	}
	if wait > 0 {
		return nil, rateLimited(time.Duration(wait) * time.Millisecond)
	}
	return a, nil
}

// succeeded records that the attempt proved the secret: it is not a failure, the
// address's failures on the account are forgotten, and the address is known to the
// account, so the ceiling does not hold it back.
func (a *attempt) succeeded(ctx context.Context) error {
	if err := a.settle(ctx, a.l.knownTTL); err != nil {
		return fmt.Errorf("auth: rate limit: success: %w: %w", outage.ErrUnavailable, err)
	}
	return nil
}

// abandon takes the attempt's count back when it got no answer (the bcrypt bound was full,
// a store failed, the client left), so neither an outage nor a dropped connection counts
// against the owner. It runs even when the request's context has ended, for at most
// settleTimeout; a failure is only logged, as the answer is already decided.
func (a *attempt) abandon(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := a.settle(ctx, 0); err != nil {
		httpapi.Logger(ctx).Warn("rate limit: could not take back an unanswered attempt", "error", err.Error())
	}
}

func (a *attempt) settle(ctx context.Context, knownTTL time.Duration) error {
	return settleScript.Run(ctx, a.l.rdb, []string{a.pair, a.account, a.known}, knownTTL.Milliseconds()).Err()
}

// allowSignup counts a signup by the client at ip, and returns a 429 error with
// Retry-After when the address is over its limit.
func (l *rateLimiter) allowSignup(ctx context.Context, ip netip.Addr) error {
	wait, err := hitScript.Run(ctx, l.rdb, []string{l.redisKey(scopeSignup, "ip", addressBucket(ip))},
		l.signup.window.Milliseconds(), l.signup.max).Int64()
	if err != nil {
		return fmt.Errorf("auth: rate limit: %w: %w", outage.ErrUnavailable, err)
	}
	if wait > 0 {
		return rateLimited(time.Duration(wait) * time.Millisecond)
	}
	return nil
}

// remember marks ip as known to the account named by email, as a success does: the
// address a user signed up from is theirs.
func (l *rateLimiter) remember(ctx context.Context, email string, ip netip.Addr) error {
	if err := l.rdb.Set(ctx, l.knownKey(normalizeEmail(email), addressBucket(ip)), "1", l.knownTTL).Err(); err != nil {
		return fmt.Errorf("auth: rate limit: remember address: %w: %w", outage.ErrUnavailable, err)
	}
	return nil
}

// knownKey names the mark that an address has succeeded on an account; it is shared by
// the login and recovery scopes, since either secret proves the owner.
func (l *rateLimiter) knownKey(email, bucket string) string {
	return l.redisKey("any", "known", email+"\x00"+bucket)
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
