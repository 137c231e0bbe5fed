package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// The session cache: each instance (each Store that ran StartCache) keeps the sessions it
// verified for a few seconds, so a request costs no Redis round trip, no MAC check and no
// record parsing while its session is cached. What it holds is the verified Session, whose
// master key stays sealed: the key is unsealed for each request, as without the cache (see
// docs/security.md, "The session cache").
//
// Revocation still takes effect at once, on every instance, by this protocol:
//
//   - Every instance with a cache subscribes to invalidationChannel, and registers itself in
//     the sorted set cacheMembersKey with a lease that ends cacheLease after Redis's clock
//     at the registration. It pings Redis on the subscription's own connection every
//     cacheRenewEvery and renews the registration on each answer.
//   - It serves from the cache only while its subscription is confirmed and both its last
//     answered ping and its last registration are younger than cacheLease, each timed from
//     before it was sent. A pong answers a ping on the subscription's connection, so every
//     message published before Redis handled the ping has already been applied when the
//     pong is read.
//   - A revocation deletes the records first, then (announce) publishes the invalidation
//     and reads the registered members in one script, and returns only when every member
//     and every receiver counted by PUBLISH has acknowledged it (each does so after
//     dropping the sessions), or when every member that did not has seen its lease run
//     out: one that missed the message (a lost subscription, a stalled process) has stopped
//     serving from its cache by then. So once a revocation returns, no instance serves the
//     revoked session from its cache.
//   - A lookup that raced the revocation (it read the record before the delete and comes
//     back after the invalidation was applied) is not cached: every invalidation and every
//     loss of the subscription bumps a generation, and a lookup is stored only when the
//     generation it started under is still current and the cache was serving then.
//   - A lost subscription (an error, or nothing heard for cacheSilence) flushes the cache
//     and stops it serving; it serves again once a new subscription is confirmed and pinged.
//
// The cost when an instance dies without Close: for up to cacheLease, revocations wait for
// its lease to run out.

// Names in Redis, under the sess: prefix the sessions' own keys use.
const (
	invalidationChannel = "sess:invalidate"
	cacheMembersKey     = "sess:cache:members"
	ackKeyPrefix        = "sess:cache:ack:"
)

const (
	// cacheRenewEvery is how often an instance pings its subscription and renews its
	// registration.
	cacheRenewEvery = 250 * time.Millisecond
	// cacheLease is how long one answered ping and one registration let an instance serve
	// from its cache: the longest a revocation waits for an instance that does not answer.
	cacheLease = 1500 * time.Millisecond
	// cacheSilence is how long the subscription may stay silent (pings are answered every
	// cacheRenewEvery) before it is taken for lost and opened again.
	cacheSilence = 3 * time.Second
	// ackKeyTTL bounds how long an acknowledgement list outlives its revocation.
	ackKeyTTL = 10 * time.Second
	// cacheOpTimeout bounds each Redis call of the cache's own loop.
	cacheOpTimeout = time.Second
)

// Invalidation kinds, the second word of an invalidation message.
const (
	invalidateSession = "s" // one session id
	invalidateUser    = "u" // every session of a user id
)

// cache is one instance's session cache; the zero value is not usable, see StartCache.
type cache struct {
	rdb      *redis.Client
	sub      *redis.Client // the subscription's own client
	memberID string
	ttl      time.Duration
	max      int
	now      func() time.Time
	// onState, when set (tests), is told each time the cache starts or stops serving.
	onState func(serving bool)

	mu         sync.Mutex
	entries    map[string]cacheEntry
	gen        uint64
	subscribed bool          // a subscription is confirmed on the current connection
	pongLease  time.Time     // until when the last answered ping lets the cache serve
	regLease   time.Time     // until when the last registration lets the cache serve
	serving    bool          // as last told to onState
	ps         *redis.PubSub // the current subscription, closed by Close to end its read

	stop context.CancelFunc
	done chan struct{}
}

type cacheEntry struct {
	sess    Session
	expires time.Time // ttl after the lookup that brought it was sent
}

// cacheTicket is the state a lookup started under; put stores its result only if nothing
// was invalidated meanwhile.
type cacheTicket struct {
	gen     uint64
	serving bool
	start   time.Time
}

// StartCache gives s a cache of at most maxEntries sessions, each kept for ttl (a few
// seconds: SESSION_CACHE_TTL), and starts its subscription. Until the subscription is
// confirmed the store reads Redis as without a cache. Close stops it. Copies of s made
// after (WithMaxAge) share the cache.
func (s *Store) StartCache(ttl time.Duration, maxEntries int) error {
	return s.startCache(ttl, maxEntries, time.Now, nil)
}

func (s *Store) startCache(ttl time.Duration, maxEntries int, now func() time.Time, onState func(bool)) error {
	if ttl <= 0 || maxEntries <= 0 {
		return errors.New("session: the cache needs a positive TTL and size")
	}
	if s.cache != nil {
		return errors.New("session: the cache is already started")
	}
	ctx, stop := context.WithCancel(context.Background())
	memberID := uuid.NewString()
	// The subscription has a client of its own, whose connection carries the instance's
	// name: CLIENT LIST shows every instance's cache.
	opt := *s.rdb.Options()
	opt.ClientName = cacheClientName(memberID)
	c := &cache{rdb: s.rdb, sub: redis.NewClient(&opt), memberID: memberID, ttl: ttl, max: maxEntries, now: now,
		onState: onState, entries: map[string]cacheEntry{}, stop: stop, done: make(chan struct{})}
	s.cache = c
	go c.run(ctx)
	return nil
}

// cacheClientName names the subscription connection of the instance memberID.
func cacheClientName(memberID string) string { return "diary-session-cache-" + memberID }

// Close stops the store's cache, if it has one, and withdraws its registration, so no
// revocation waits for it. It does not close the Redis client.
func (s *Store) Close() error {
	c := s.cache
	if c == nil {
		return nil
	}
	c.stop()
	c.mu.Lock()
	if c.ps != nil {
		_ = c.ps.Close() // ends a read that is waiting for a message
	}
	c.mu.Unlock()
	<-c.done
	_ = c.sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cacheOpTimeout)
	defer cancel()
	if err := c.rdb.ZRem(ctx, cacheMembersKey, c.memberID).Err(); err != nil {
		return redisError("close cache", err)
	}
	return nil
}

// servingLocked reports whether the cache may answer at now; c.mu is held.
func (c *cache) servingLocked(now time.Time) bool {
	return c.subscribed && now.Before(c.pongLease) && now.Before(c.regLease)
}

// get returns the cached session id, if the cache is serving and holds it unexpired.
func (c *cache) get(id string) (Session, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.servingLocked(now) {
		return Session{}, false
	}
	e, ok := c.entries[id]
	if !ok {
		return Session{}, false
	}
	if !now.Before(e.expires) || !now.Before(e.sess.ExpiresAt) {
		delete(c.entries, id)
		return Session{}, false
	}
	return e.sess, true
}

// begin is taken before a lookup in Redis.
func (c *cache) begin() cacheTicket {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheTicket{gen: c.gen, serving: c.servingLocked(now), start: now}
}

// put caches sess, looked up under t, unless an invalidation or a lost subscription came
// between, or the cache was not serving when the lookup began.
func (c *cache) put(t cacheTicket, sess Session) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.serving || t.gen != c.gen || !c.servingLocked(now) {
		return
	}
	if _, ok := c.entries[sess.ID]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[sess.ID] = cacheEntry{sess: sess, expires: t.start.Add(c.ttl)}
}

// evictLocked makes room for one entry: the expired ones go, and if none had expired, one
// picked at random (a map's order) goes.
func (c *cache) evictLocked(now time.Time) {
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
		}
	}
	for id := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, id)
	}
}

// touched records a new last use of a cached session.
func (c *cache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		e.sess.LastUsedAt = at
		c.entries[id] = e
	}
}

// invalidate drops the session id, or every session of the user id.
func (c *cache) invalidate(kind, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch kind {
	case invalidateSession:
		delete(c.entries, id)
	case invalidateUser:
		for sid, e := range c.entries {
			if e.sess.UserID == id {
				delete(c.entries, sid)
			}
		}
	default:
		// An unknown kind (a newer writer): drop everything rather than miss a revocation.
		clear(c.entries)
	}
}

// lost flushes the cache and stops it serving until a new subscription is confirmed.
func (c *cache) lost() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.subscribed = false
	c.pongLease, c.regLease = time.Time{}, time.Time{}
	c.mu.Unlock()
	c.report()
}

// report tells onState when serving changed since it was last told.
func (c *cache) report() {
	if c.onState == nil {
		return
	}
	c.mu.Lock()
	serving := c.servingLocked(c.now())
	changed := serving != c.serving
	c.serving = serving
	c.mu.Unlock()
	if changed {
		c.onState(serving)
	}
}

// run keeps a subscription open until ctx ends, one connection at a time.
func (c *cache) run(ctx context.Context) {
	defer close(c.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if c.subscribe(ctx) {
			backoff = 50 * time.Millisecond
		}
		c.lost()
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// subscribe serves one subscription until it fails or ctx ends, and reports whether it was
// ever confirmed.
func (c *cache) subscribe(ctx context.Context) (confirmed bool) {
	ps := c.sub.Subscribe(ctx, invalidationChannel)
	c.mu.Lock()
	c.ps = ps
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ps = nil
		c.mu.Unlock()
		_ = ps.Close()
	}()
	if ctx.Err() != nil {
		return false // Close ran before c.ps was set
	}
	connCtx, endConn := context.WithCancel(ctx)
	defer endConn()
	go c.ping(connCtx, ps)
	for {
		msg, err := ps.ReceiveTimeout(ctx, cacheSilence)
		if err != nil {
			if ctx.Err() == nil {
				slog.Warn("session cache: subscription lost; the cache is off until it is back", "error", err.Error())
			}
			return confirmed
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" || m.Channel != invalidationChannel {
				continue
			}
			// A confirmation after the first is go-redis reconnecting underneath:
			// whatever was published in between was missed.
			if confirmed {
				c.lost()
			}
			confirmed = true
			c.mu.Lock()
			c.subscribed = true
			c.mu.Unlock()
		case *redis.Pong:
			c.pong(ctx, m.Payload)
		case *redis.Message:
			c.apply(ctx, m.Payload)
		}
	}
}

// ping pings the subscription's connection every cacheRenewEvery, each ping carrying the
// time it was sent, until ctx ends.
func (c *cache) ping(ctx context.Context, ps *redis.PubSub) {
	t := time.NewTicker(cacheRenewEvery)
	defer t.Stop()
	for {
		if err := ps.Ping(ctx, strconv.FormatInt(c.now().UnixNano(), 10)); err != nil && ctx.Err() == nil {
			slog.Debug("session cache: ping", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// registerScript renews the instance ARGV[1]'s registration for ARGV[2] ms past Redis's
// clock, drops the registrations that ran out, and keeps the set from outliving them all.
var registerScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], 10 * tonumber(ARGV[2]))
return now
`)

// pong renews the leases on the answer to the ping sent at payload.
func (c *cache) pong(ctx context.Context, payload string) {
	ns, err := strconv.ParseInt(payload, 10, 64)
	if err != nil {
		return // not one of ours
	}
	sent := time.Unix(0, ns)
	c.mu.Lock()
	subscribed := c.subscribed
	c.mu.Unlock()
	if !subscribed {
		return
	}
	regStart := c.now()
	rctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
	err = registerScript.Run(rctx, c.rdb, []string{cacheMembersKey}, c.memberID, cacheLease.Milliseconds()).Err()
	cancel()
	if err != nil {
		slog.Debug("session cache: register", "error", err.Error())
		return
	}
	c.mu.Lock()
	if c.subscribed {
		if !c.servingLocked(c.now()) {
			// The leases lapsed (or this is the first): a revocation may have waited them
			// out instead of for this instance, so what the cache holds is dropped.
			c.gen++
			clear(c.entries)
		}
		c.pongLease = sent.Add(cacheLease)
		c.regLease = regStart.Add(cacheLease)
	}
	c.mu.Unlock()
	c.report()
}

// apply drops what an invalidation message names, then acknowledges it.
func (c *cache) apply(ctx context.Context, payload string) {
	nonce, kind, id, ok := parseInvalidation(payload)
	if !ok {
		c.invalidate("", "") // unreadable: drop everything
		return
	}
	c.invalidate(kind, id)
	actx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
	defer cancel()
	pipe := c.rdb.Pipeline()
	pipe.RPush(actx, ackKeyPrefix+nonce, c.memberID)
	pipe.PExpire(actx, ackKeyPrefix+nonce, ackKeyTTL)
	if _, err := pipe.Exec(actx); err != nil {
		// The revoker waits out this instance's lease instead.
		slog.Warn("session cache: acknowledge an invalidation", "error", err.Error())
	}
}

func parseInvalidation(payload string) (nonce, kind, id string, ok bool) {
	parts := strings.Split(payload, " ")
	if len(parts) != 3 || parts[0] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// publishScript publishes the invalidation ARGV[2] on the channel ARGV[1] and answers
// how many subscribers received it, Redis's clock in ms, and the registered instances
// whose lease runs past it, with their leases' ends: read in the same step as the publish,
// so an instance either is in the list or registered after the publish.
var publishScript = redis.NewScript(`
local n = redis.call('PUBLISH', ARGV[1], ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
return {n, now, m}
`)

// announce tells every instance's cache to drop the session id (kind invalidateSession) or
// the user id's sessions (invalidateUser), and returns once none can serve them from its
// cache: every instance acknowledged, or the leases of those that did not ran out. Call it
// after the records are gone from Redis. An error means it is unknown whether every cache
// dropped them; the caller answers it as an outage (503), and the client retries.
func (s *Store) announce(ctx context.Context, kind, id string) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("session: random: %w", err)
	}
	nonce := hex.EncodeToString(b)
	res, err := publishScript.Run(ctx, s.rdb, []string{cacheMembersKey}, invalidationChannel,
		nonce+" "+kind+" "+id).Slice()
	answered := time.Now()
	if err != nil {
		return redisError("announce", err)
	}
	receivers, members, err := parsePublished(res)
	if err != nil {
		return redisError("announce", err)
	}
	if receivers == 0 && len(members) == 0 {
		return nil
	}
	ackKey := ackKeyPrefix + nonce
	acks := 0
	for acks < receivers || len(members) > 0 {
		// A member is waited for until its lease ends. A receiver that is no member (its
		// registration lapsed, so it flushes before it serves again) is waited for up
		// to one lease, in case the registrations were lost from Redis.
		var deadline time.Time
		for _, leaseLeft := range members {
			deadline = later(deadline, answered.Add(leaseLeft))
		}
		if acks < receivers {
			deadline = later(deadline, answered.Add(cacheLease))
		}
		left := time.Until(deadline)
		if left <= 0 {
			slog.Warn("session cache: instances did not acknowledge a revocation; waited out their leases",
				"unacknowledged", len(members), "acknowledged", acks, "receivers", receivers)
			break
		}
		// BLPOP takes its timeout in seconds, decimals allowed; 0 would block for ever.
		secs := strconv.FormatFloat(max(left.Seconds(), 0.001), 'f', 3, 64)
		v, err := s.rdb.Do(ctx, "BLPOP", ackKey, secs).StringSlice()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return redisError("announce", err)
		}
		if len(v) == 2 {
			acks++
			delete(members, v[1])
		}
	}
	_ = s.rdb.Del(context.WithoutCancel(ctx), ackKey).Err()
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// parsePublished reads publishScript's answer: the receivers, and the members by id with
// how long past the answer each one's lease runs.
func parsePublished(res []any) (receivers int, members map[string]time.Duration, err error) {
	if len(res) != 3 {
		return 0, nil, errors.New("unexpected answer")
	}
	n, ok1 := res[0].(int64)
	now, ok2 := res[1].(int64)
	list, ok3 := res[2].([]any)
	if !ok1 || !ok2 || !ok3 || len(list)%2 != 0 {
		return 0, nil, errors.New("unexpected answer")
	}
	members = map[string]time.Duration{}
	for i := 0; i < len(list); i += 2 {
		id, _ := list[i].(string)
		score, err := strconv.ParseFloat(fmt.Sprint(list[i+1]), 64)
		if id == "" || err != nil {
			return 0, nil, errors.New("unexpected member")
		}
		members[id] = time.Duration(score-float64(now)) * time.Millisecond
	}
	return int(n), members, nil
}
