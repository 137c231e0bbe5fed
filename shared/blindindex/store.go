package blindindex

import (
	"context"
	"fmt"

	"github.com/xmojo/diary/shared/store"
)

// Put writes an entry's tokens (search_index), made from the text of the entry at
// entryVersion (entries.body_version), in the caller's transaction. A row made from a
// newer version is kept: a reindex that read the entry before an update committed cannot
// bring back the old text's tokens. An entry that is gone, or not the user's, writes
// nothing.
func Put(ctx context.Context, db store.DBTX, userID, entryID string, entryVersion int, v Vector) error {
	return put(ctx, db, userID, entryID, &entryVersion, v)
}

// put writes the row at entryVersion, or at the entry's current body_version when nil.
func put(ctx context.Context, db store.DBTX, userID, entryID string, entryVersion *int, v Vector) error {
	if _, err := db.Exec(ctx, `
		INSERT INTO search_index AS s (entry_id, user_id, entry_version, tokens, tokens_prefixed, indexed_at)
		SELECT e.id, e.user_id, coalesce($3, e.body_version), $4::tsvector, $5::tsvector, now()
		FROM entries e WHERE e.id = $1 AND e.user_id = $2
		ON CONFLICT (entry_id) DO UPDATE
		SET entry_version = EXCLUDED.entry_version, tokens = EXCLUDED.tokens,
		    tokens_prefixed = EXCLUDED.tokens_prefixed, indexed_at = EXCLUDED.indexed_at
		WHERE s.user_id = EXCLUDED.user_id AND s.entry_version <= EXCLUDED.entry_version`,
		entryID, userID, entryVersion, v.Words(), v.All()); err != nil {
		return fmt.Errorf("blindindex: put %s: %w", entryID, store.Translate(err))
	}
	return nil
}

// Tokens makes the tokens of a uce entry's text of the origin under the search key derived from the
// user's master key, and wipes the derived key. Writers call it before they take the
// user's write lock, and Put in the write's transaction.
func Tokens(masterKey []byte, userID string, o Origin, title *string, content string) (Vector, error) {
	k, err := NewKey(masterKey, userID)
	if err != nil {
		return Vector{}, err
	}
	defer k.Wipe()
	return k.Vector(o, title, content), nil
}
