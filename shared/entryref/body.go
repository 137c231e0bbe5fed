package entryref

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/store"
)

// ErrNoBody is returned by Body for a live entry of the user whose text is not stored
// under the master key yet (content brought in while the user was away, still sealed to
// the user's public key).
var ErrNoBody = errors.New("entryref: the entry's text is not readable yet")

// Stored is a live entry's stored body: a uce entry's sealed title and content with the
// body version they are bound to (open them with entrybody.Open), or an e2e entry's
// client ciphertext.
type Stored struct {
	Sealed      entrybody.Sealed
	BodyVersion int
	Ciphertext  []byte
}

// Body reads the stored body of one of the user's live entries, for a function that sends
// an entry's text elsewhere (integrations push). Another user's entry, a deleted one and a
// missing one are all store.ErrNotFound. It decrypts nothing: the caller opens the uce
// fields with the caller's master key.
func Body(ctx context.Context, db store.DBTX, userID, entryID string) (Stored, error) {
	var s Stored
	err := db.QueryRow(ctx, `
		SELECT title_ct, content_ct, body_version, ciphertext FROM entries
		WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`, entryID, userID).
		Scan(&s.Sealed.Title, &s.Sealed.Content, &s.BodyVersion, &s.Ciphertext)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stored{}, store.ErrNotFound
	}
	if err != nil {
		return Stored{}, fmt.Errorf("entryref: body: %w", store.Translate(err))
	}
	if s.Sealed.Content == nil && s.Ciphertext == nil {
		return Stored{}, ErrNoBody
	}
	return s, nil
}
