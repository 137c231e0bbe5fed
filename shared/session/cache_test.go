package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/testenv"
)

// instance is one function instance's session store with its own Redis client and cache.
type instance struct {
	store  *session.Store
	events <-chan bool
	rdb    *redis.Client
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newInstance starts a store with a cache of maxEntries sessions kept for ttl and waits
// until its cache serves. A nil now is the real clock.
func newInstance(t *testing.T, ttl time.Duration, maxEntries int, now func() time.Time) instance {
	t.Helper()
	env := testenv.Env(t)
	opt, err := redis.ParseURL(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	key, err := base64.StdEncoding.DecodeString(env["SESSION_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	store, err := session.NewStore(rdb, key)
	if err != nil {
		t.Fatal(err)
	}
	if now == nil {
		now = time.Now
	}
	events, err := store.StartCacheWith(ttl, maxEntries, now)
	if err != nil {
		t.Fatalf("StartCache() = %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	in := instance{store: store.WithClock(now), events: events, rdb: rdb}
	in.waitServing(t, true)
	return in
}

// waitServing waits until the cache reports it started (true) or stopped serving.
func (in instance) waitServing(t *testing.T, want bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case got := <-in.events:
			if got == want {
				return
			}
		case <-ctx.Done():
			t.Fatalf("the session cache never reported serving = %v", want)
		}
	}
}

// cacheOn makes b read the session id twice (the second from its cache) and checks that it
// holds it.
func cacheOn(t *testing.T, b instance, id string) {
	t.Helper()
	for range 2 {
		if _, err := b.store.Get(context.Background(), id); err != nil {
			t.Fatalf("Get(%s) = %v", id, err)
		}
	}
	if !b.store.Cached(id) {
		t.Fatalf("the cache does not hold session %s after reading it", id)
	}
}

// cachedThenDeleted creates a session, has b cache it, and deletes its record in Redis
// behind the cache's back (no revocation, no invalidation).
func cachedThenDeleted(t *testing.T, b instance) session.Session {
	t.Helper()
	ctx := context.Background()
	sess, _, err := b.store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	cacheOn(t, b, sess.ID)
	if err := b.rdb.Del(ctx, "sess:"+sess.ID).Err(); err != nil {
		t.Fatal(err)
	}
	return sess
}

// TestCacheServesWhatRedisNoLongerHolds is the control for the revocation tests: a
// session deleted in Redis behind the package's back is still answered from the cache
// until its TTL, so a revocation that did not reach the cache would be served.
func TestCacheServesWhatRedisNoLongerHolds(t *testing.T) {
	b := newInstance(t, time.Minute, 100, nil)
	ctx := context.Background()
	sess := cachedThenDeleted(t, b)
	if got, err := b.store.Get(ctx, sess.ID); err != nil || got.ID != sess.ID {
		t.Fatalf("Get() after a delete behind the cache = %v, %v, want the cached session", got.ID, err)
	}
}

// TestRevocationReachesEveryInstanceAtOnce: two instances, each with its own cache; one
// revokes, the other refuses the very next request, with no wait in between, for every
// way a session ends (logout, a session revoked from the list, logout everywhere,
// password change and reset, account deletion, refresh reuse).
func TestRevocationReachesEveryInstanceAtOnce(t *testing.T) {
	a := newInstance(t, time.Minute, 100, nil)
	b := newInstance(t, time.Minute, 100, nil)
	ctx := context.Background()
	tests := []struct {
		name string
		// revoke ends the session sess (refresh is its refresh token) through a.
		revoke func(t *testing.T, userID string, sess session.Session, refresh string)
	}{
		{"logout (Revoke)", func(t *testing.T, _ string, sess session.Session, _ string) {
			if err := a.store.Revoke(ctx, sess.ID); err != nil {
				t.Fatalf("Revoke() = %v", err)
			}
		}},
		{"a session revoked from the list (RevokeOwned)", func(t *testing.T, userID string, sess session.Session, _ string) {
			if err := a.store.RevokeOwned(ctx, userID, sess.ID); err != nil {
				t.Fatalf("RevokeOwned() = %v", err)
			}
		}},
		{"logout everywhere, account deletion (RevokeUser)", func(t *testing.T, userID string, _ session.Session, _ string) {
			if n, err := a.store.RevokeUser(ctx, userID, ""); err != nil || n != 1 {
				t.Fatalf("RevokeUser() = %d, %v, want 1", n, err)
			}
		}},
		{"password change or reset (RevokeUser but the new session)", func(t *testing.T, userID string, _ session.Session, _ string) {
			kept, _, err := a.store.Create(ctx, userID, "uce", []byte(strings.Repeat("k", 32)))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := a.store.RevokeUser(ctx, userID, kept.ID); err != nil || n != 1 {
				t.Fatalf("RevokeUser() = %d, %v, want 1", n, err)
			}
			if _, err := b.store.Get(ctx, kept.ID); err != nil {
				t.Fatalf("Get(kept session) = %v", err)
			}
		}},
		{"refresh token reused (Rotate)", func(t *testing.T, _ string, _ session.Session, refresh string) {
			rotated, _, err := a.store.Rotate(ctx, refresh)
			if err != nil {
				t.Fatalf("Rotate() = %v", err)
			}
			// Cached again after the rotation, so only the reuse's own invalidation
			// can drop it.
			cacheOn(t, b, rotated.ID)
			cacheOn(t, a, rotated.ID)
			if _, _, err := a.store.Rotate(ctx, refresh); !errors.Is(err, session.ErrRefreshReused) {
				t.Fatalf("Rotate(spent) = %v, want ErrRefreshReused", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			userID := uuid.NewString()
			sess, refresh, err := a.store.Create(ctx, userID, "uce", []byte(strings.Repeat("k", 32)))
			if err != nil {
				t.Fatal(err)
			}
			cacheOn(t, b, sess.ID)
			cacheOn(t, a, sess.ID)
			tt.revoke(t, userID, sess, refresh)
			for name, in := range map[string]instance{"other instance": b, "revoking instance": a} {
				if _, err := in.store.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("Get() on the %s right after the revocation = %v, want ErrNotFound", name, err)
				}
			}
		})
	}
}

// TestRotationDropsTheCachedCopy: a refresh rotates the record (a new expiry); every
// cache drops its copy, and the session reads on with the new expiry.
func TestRotationDropsTheCachedCopy(t *testing.T) {
	a := newInstance(t, time.Minute, 100, nil)
	b := newInstance(t, time.Minute, 100, nil)
	ctx := context.Background()
	sess, refresh, err := a.store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	cacheOn(t, b, sess.ID)
	rotated, _, err := a.store.Rotate(ctx, refresh)
	if err != nil {
		t.Fatalf("Rotate() = %v", err)
	}
	if b.store.Cached(sess.ID) {
		t.Fatal("the other instance still caches the session after its rotation returned")
	}
	got, err := b.store.Get(ctx, sess.ID)
	if err != nil || !got.ExpiresAt.Equal(rotated.ExpiresAt) {
		t.Fatalf("Get() after rotation = expiry %v, %v, want %v", got.ExpiresAt, err, rotated.ExpiresAt)
	}
}

// TestCacheEntriesExpireAfterTheirTTL, on the cache's own clock: a session deleted behind
// the cache is served until the TTL has passed since it was read, and not after.
func TestCacheEntriesExpireAfterTheirTTL(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	const ttl = time.Second // under the lease, so moving the clock by it keeps the cache serving
	b := newInstance(t, ttl, 100, clock.now)
	ctx := context.Background()
	sess := cachedThenDeleted(t, b)
	clock.advance(ttl - time.Millisecond)
	if _, err := b.store.Get(ctx, sess.ID); err != nil {
		t.Fatalf("Get() just inside the TTL = %v, want the cached session", err)
	}
	clock.advance(time.Millisecond)
	if _, err := b.store.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get() at the TTL = %v, want ErrNotFound (read from Redis again)", err)
	}
	if b.store.Cached(sess.ID) {
		t.Fatal("the expired entry is still held")
	}
}

// TestCacheIsBounded: the cache never holds more sessions than its size, and the session
// read last is among those it holds.
func TestCacheIsBounded(t *testing.T) {
	const size = 3
	b := newInstance(t, time.Minute, size, nil)
	ctx := context.Background()
	for i := range 10 {
		sess, _, err := b.store.Create(ctx, uuid.NewString(), "e2e", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Get(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		if n := b.store.CachedCount(); n > size {
			t.Fatalf("after %d sessions the cache holds %d, want at most %d", i+1, n, size)
		}
		if !b.store.Cached(sess.ID) {
			t.Fatalf("the cache does not hold the session read last (%d)", i+1)
		}
	}
}

// TestLostSubscriptionFlushesTheCache: when Redis drops the cache's subscription, the
// cache is emptied and stops serving (what was published meanwhile was missed), then
// serves again once subscribed anew.
func TestLostSubscriptionFlushesTheCache(t *testing.T) {
	b := newInstance(t, time.Minute, 100, nil)
	ctx := context.Background()
	// Deleted behind the cache: only a flush makes the cache stop answering it.
	sess := cachedThenDeleted(t, b)
	killClient(t, b.rdb, b.store.CacheClientName())
	b.waitServing(t, false)
	if _, err := b.store.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get() after the subscription was lost = %v, want ErrNotFound", err)
	}
	b.waitServing(t, true)
	next, _, err := b.store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	cacheOn(t, b, next.ID)
}

// killClient closes, from Redis's side, the connection named name.
func killClient(t *testing.T, rdb *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				n, _ := strconv.ParseInt(id, 10, 64)
				if err := rdb.ClientKillByFilter(ctx, "ID", strconv.FormatInt(n, 10)).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID %d = %v", n, err)
				}
				return
			}
		}
	}
	t.Fatalf("no connection named %s in CLIENT LIST", name)
}

// TestRevocationWaitsOutAnInstanceThatDoesNotAnswer: an instance registered but not
// acknowledging (stalled, or its subscription lost) may serve from its cache until its
// lease ends, so a revocation returns only after that lease's end on Redis's clock.
func TestRevocationWaitsOutAnInstanceThatDoesNotAnswer(t *testing.T) {
	a := newInstance(t, time.Minute, 100, nil)
	ctx := context.Background()
	now := redisMillis(t, a.rdb)
	silent := "silent-" + uuid.NewString()
	leaseEnd := now + 300
	if err := a.rdb.ZAdd(ctx, session.CacheMembersKey, redis.Z{Score: float64(leaseEnd), Member: silent}).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.rdb.ZRem(context.Background(), session.CacheMembersKey, silent) })
	sess, _, err := a.store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.Revoke(ctx, sess.ID); err != nil {
		t.Fatalf("Revoke() = %v", err)
	}
	if after := redisMillis(t, a.rdb); after < leaseEnd {
		t.Fatalf("Revoke() returned at %d ms, before the silent instance's lease ended at %d ms", after, leaseEnd)
	}
}

func redisMillis(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixMilli()
}
