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
