package token

import (
	"sync"
	"time"
)

// verifiedCacheSize bounds the verified-token cache: about 100 bytes a token.
const verifiedCacheSize = 8192

// verifiedCache remembers the claims of tokens that verified, until they expire.
type verifiedCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]*Claims
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, entries: make(map[[32]byte]*Claims)}
}

// get returns a copy of the cached claims, so callers cannot change what others read.
func (c *verifiedCache) get(key [32]byte, now time.Time) (*Claims, bool) {
	c.mu.RLock()
	claims, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || claims.ExpiresAt == nil || !now.Before(claims.ExpiresAt.Time) {
		return nil, false
	}
	cp := *claims
	return &cp, true
}

func (c *verifiedCache) put(key [32]byte, claims *Claims) {
	cp := *claims
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(time.Now())
	}
	c.entries[key] = &cp
}

// evict drops expired tokens and, if that frees too little, everything: a full cache is
// rare (8192 live tokens on one instance) and refilling it costs one verify per token.
func (c *verifiedCache) evict(now time.Time) {
	for k, claims := range c.entries {
		if claims.ExpiresAt == nil || !now.Before(claims.ExpiresAt.Time) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.max*3/4 {
		clear(c.entries)
	}
}
