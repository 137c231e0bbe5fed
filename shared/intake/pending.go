package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/store"
)

// Pending is the per-user Redis marker that says "this uce user may have boxes to
// redeem", so the entries function can ask it on every request for the price of one
// EXISTS, instead of a database query on the hot path (docs/intake.md, "Knowing cheaply").
//
// Its rule: the marker is set by Deliver while it holds the user's entry lock, and cleared
// only by Redeem while it holds the same lock, after finding no box left. So a delivery
// whose transaction commits always leaves the marker set behind it, whatever the
// interleaving; a delivery that rolls back leaves a stale marker, which costs the next
// request one empty redemption and is then cleared. The marker carries no content and no
// expiry. Losing Redis loses the markers but also every session, so each user logs in
// again, and a login restores the marker from the database (Restore); Redeem itself asks
// the database, never the marker, and sets the marker again while boxes are left beyond
// its batch.
type Pending struct {
	rdb redis.Cmdable
}

// NewPending returns the markers kept in rdb.
func NewPending(rdb redis.Cmdable) *Pending {
	return &Pending{rdb: rdb}
}

func pendingKey(userID string) string { return "intake:pending:" + userID }

// Mark records that the user may have boxes to redeem.
func (p *Pending) Mark(ctx context.Context, userID string) error {
	if err := p.rdb.Set(ctx, pendingKey(userID), "1", 0).Err(); err != nil {
		return fmt.Errorf("intake: mark pending: %w", err)
	}
	return nil
}

// Has reports whether the user may have boxes to redeem. false means none: every
// committed delivery of the user since their last redemption has left the marker set.
func (p *Pending) Has(ctx context.Context, userID string) (bool, error) {
	n, err := p.rdb.Exists(ctx, pendingKey(userID)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("intake: pending: %w", err)
	}
	return n > 0, nil
}

// Restore sets the user's marker when the database holds pending boxes of theirs, and
// reports whether it does: what auth runs at login, so a marker Redis lost (or one never
// set) comes back before the user's first entries request, which then redeems. It needs
// no lock: it only ever sets the marker, and a marker set too often costs one empty
// redemption. The query is one probe of the partial index entries_intake_pending_idx.
func (p *Pending) Restore(ctx context.Context, db store.DBTX, userID string) (bool, error) {
	var has bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = $1 AND intake_box IS NOT NULL)`, userID).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("intake: restore pending: %w", store.Translate(err))
	}
	if has {
		if err := p.Mark(ctx, userID); err != nil {
			return false, fmt.Errorf("intake: restore pending: %w", err)
		}
	}
	return has, nil
}

// clear removes the mark; Redeem calls it under the user's entry lock only.
func (p *Pending) clear(ctx context.Context, userID string) error {
	if err := p.rdb.Del(ctx, pendingKey(userID)).Err(); err != nil {
		return fmt.Errorf("intake: clear pending: %w", err)
	}
	return nil
}
