package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/entryhistory"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// OnOpen is called by Redeem for each box it opens, in the transaction that re-seals it
// and after the entry row is updated, with the opened body: the search indexer indexes
// the entry there, so an entry is never readable but unindexed. An error rolls the whole
// batch back. It must not keep body beyond the call.
type OnOpen func(ctx context.Context, tx pgx.Tx, entryID string, body Body) error

// Redemption is what one Redeem did.
type Redemption struct {
	// Entries are the entries re-sealed, committed: for each, the caller emits the
	// entry.changed event (Change "updated", Version the new version) as entries does
	// after an update.
	Entries []Delivered
	// More is true when boxes are left beyond the batch.
	More bool
}

// ErrNoPrivateKey is returned by Redeem for a user with pending boxes whose private key
// cannot be unwrapped with the given master key (not a uce user, or a wrong key).
var ErrNoPrivateKey = errors.New("intake: the user's private key cannot be unwrapped")

// Redeem re-seals up to limit of the uce user's pending boxes, oldest first, under their
// master key, in one transaction holding the user's entry lock: it unwraps the user's
// X25519 private key (users.wrapped_private_key) with masterKey, opens each box, seals the
// body with entrybody at the row's body_version (the version the body was delivered at),
// clears the box and bumps the entry's version with an "updated" history row (the entry
// changed for its clients: it now has text, and an ETag of the pending entry must not
// match it any more), and calls onOpen (nil: none). Once no box is left it clears the
// user's Pending marker under the same lock; while some are left it sets it, so a
// redemption that did not start from the marker (a login) leaves one behind for the next
// request. It asks the database, never the marker, whether anything is pending: the
// query is one probe of a partial index that holds only pending rows.
//
// A box that does not open fails the batch with ErrUnreadable and the entry's id; the
// entries stay pending, nothing is lost.
func Redeem(ctx context.Context, db *pgxpool.Pool, pending *Pending, userID string, masterKey []byte, limit int, onOpen OnOpen) (Redemption, error) {
	if limit < 1 {
		return Redemption{}, fmt.Errorf("intake: redeem: limit %d must be at least 1", limit)
	}
	var (
		red     Redemption
		cleared bool
	)
	err := store.Transact(ctx, db, func(tx pgx.Tx) error {
		red, cleared = Redemption{}, false
		at, err := userlock.Lock(ctx, tx, userID, userlock.Entries)
		if err != nil {
			return err
		}
		boxes, err := pendingBoxes(ctx, tx, userID, limit+1)
		if err != nil {
			return err
		}
		if len(boxes) > limit {
			red.More, boxes = true, boxes[:limit]
		}
		if len(boxes) > 0 {
			if red.Entries, err = redeemBoxes(ctx, tx, userID, masterKey, boxes, at, onOpen); err != nil {
				return err
			}
		}
		if red.More {
			return pending.Mark(ctx, userID)
		}
		// A Redis failure here leaves a stale marker, which costs one empty redemption
		// later; it is no reason to undo the batch.
		cleared = pending.clear(ctx, userID) == nil
		return nil
	})
	if err != nil {
		if cleared {
			// The batch rolled back after the marker went: put it back (best effort; a
			// login redeems from the database anyway).
			_ = pending.Mark(context.WithoutCancel(ctx), userID)
		}
		return Redemption{}, fmt.Errorf("intake: redeem: %w", err)
	}
	return red, nil
}

// pendingBox is an entry waiting for redemption.
type pendingBox struct {
	id          string
	box         []byte
	bodyVersion int
}

// pendingBoxes returns up to n of the user's pending boxes, oldest first, from the partial
// index entries_intake_pending_idx.
func pendingBoxes(ctx context.Context, tx pgx.Tx, userID string, n int) ([]pendingBox, error) {
	rows, err := tx.Query(ctx, `
		SELECT id, intake_box, body_version FROM entries
		WHERE user_id = $1 AND intake_box IS NOT NULL
		ORDER BY created_at, id LIMIT $2`, userID, n)
	if err != nil {
		return nil, fmt.Errorf("pending boxes: %w", store.Translate(err))
	}
	boxes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pendingBox, error) {
		var b pendingBox
		err := row.Scan(&b.id, &b.box, &b.bodyVersion)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("pending boxes: %w", store.Translate(err))
	}
	return boxes, nil
}

// redeemBoxes re-seals boxes in tx; see Redeem.
func redeemBoxes(ctx context.Context, tx pgx.Tx, userID string, masterKey []byte, boxes []pendingBox, at time.Time, onOpen OnOpen) ([]Delivered, error) {
	var wrapped []byte
	err := tx.QueryRow(ctx, `SELECT wrapped_private_key FROM users WHERE id = $1 AND encryption_tier = 'uce'`, userID).Scan(&wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoPrivateKey
	}
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", store.Translate(err))
	}
	private, err := crypto.UnwrapPrivateKey(masterKey, userID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoPrivateKey, err)
	}
	defer clear(private)
	out := make([]Delivered, 0, len(boxes))
	for _, b := range boxes {
		body, err := Open(private, b.id, b.box)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", b.id, err)
		}
		sealed, err := entrybody.Seal(masterKey, userID, b.id, b.bodyVersion, body.Title, body.Content)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", b.id, err)
		}
		var version int
		err = tx.QueryRow(ctx, `
			UPDATE entries SET title_ct = $3, content_ct = $4, intake_box = NULL, content_bytes = $5,
				version = version + 1, updated_at = $6
			WHERE id = $1 AND user_id = $2 AND intake_box IS NOT NULL
			RETURNING version`,
			b.id, userID, sealed.Title, sealed.Content, sealed.Size(), at).Scan(&version)
		if err != nil {
			return nil, fmt.Errorf("entry %s: re-seal: %w", b.id, store.Translate(err))
		}
		if err := entryhistory.Record(ctx, tx, userID, b.id, entryhistory.Updated, version, at); err != nil {
			return nil, fmt.Errorf("entry %s: %w", b.id, err)
		}
		if onOpen != nil {
			if err := onOpen(ctx, tx, b.id, body); err != nil {
				return nil, fmt.Errorf("entry %s: on open: %w", b.id, err)
			}
		}
		out = append(out, Delivered{UserID: userID, EntryID: b.id, Change: entryhistory.Updated, Version: version})
	}
	return out, nil
}
