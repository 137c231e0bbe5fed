package blindindex

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/intake"
)

// OnOpen returns the intake.OnOpen callback that indexes each box intake.Redeem re-seals
// for the user (as Outside text: it came from elsewhere), in the redemption's own
// transaction, so a redeemed entry is searchable as
// soon as it is readable. The caller passes the master key it redeems with and wipes it
// after Redeem returns; the search key derived from it lives only for each call.
func OnOpen(masterKey []byte, userID string) intake.OnOpen {
	return func(ctx context.Context, tx pgx.Tx, entryID string, body intake.Body) error {
		v, err := Tokens(masterKey, userID, Outside, body.Title, body.Content)
		if err != nil {
			return err
		}
		// The redemption has just re-sealed the body at its body_version in tx.
		return put(ctx, tx, userID, entryID, nil, v)
	}
}
