package session

import (
	"context"
	"time"
)

// HashRefresh exposes hashRefresh, so tests can write the refresh hash an attacker would.
func HashRefresh(userID, sessionID, secret string) string {
	return hashRefresh(userID, sessionID, secret)
}

// WithClock returns a copy of s that reads the time from now.
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// SignRecord returns the MAC of the record sess:<id> with the given fields, as Create would
// compute it: tests use it to build a record that passes the MAC and must still be refused.
func (s *Store) SignRecord(id string, vals map[string]string) string {
	r := recordOf(id, vals)
	r.sign(s.macKey)
	return r.mac
}

// RotateAfterRead is Rotate with between called after the record was read and verified
// and before the rotation script runs, so tests can change Redis in that gap.
func (s *Store) RotateAfterRead(ctx context.Context, refresh string, between func()) (Session, string, error) {
	id, secret, _ := cut(refresh)
	cur, err := s.load(ctx, id)
	if err != nil {
		return Session{}, "", err
	}
	between()
	return s.rotate(ctx, cur, secret)
}

// StartCacheWith is StartCache with the cache's clock now, and the channel it reports on
// each time the cache starts (true) or stops (false) serving.
func (s *Store) StartCacheWith(ttl time.Duration, maxEntries int, now func() time.Time) (<-chan bool, error) {
	events := make(chan bool, 64)
	err := s.startCache(ttl, maxEntries, now, func(serving bool) {
		select {
		case events <- serving:
		default:
		}
	})
	return events, err
}

// Cached reports whether the store's cache holds the session id.
func (s *Store) Cached(id string) bool {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	_, ok := s.cache.entries[id]
	return ok
}

// CachedCount is how many sessions the store's cache holds.
func (s *Store) CachedCount() int {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.cache.entries)
}

// CacheClientName is the name of the store's subscription connection in CLIENT LIST.
func (s *Store) CacheClientName() string { return cacheClientName(s.cache.memberID) }

// CacheMembersKey and AckKeyPrefix are the cache's Redis names.
const (
	CacheMembersKey = cacheMembersKey
	CacheLease      = cacheLease
)
