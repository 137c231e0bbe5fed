package archive

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
)

// errNoPrivateKey is a uce user whose X25519 private key does not unwrap with the
// session's master key: a corrupted row, never an ordinary state.
var errNoPrivateKey = errors.New("archive: the user's private key cannot be unwrapped")

// privateKey unwraps the uce user's X25519 private key (users.wrapped_private_key) with
// the master key: what opens the boxes the importer sealed to the public key (media
// filenames) and intake boxes still pending. The caller wipes it.
func (s *server) privateKey(ctx context.Context, db store.DBTX, userID string, key []byte) ([]byte, error) {
	var wrapped []byte
	err := db.QueryRow(ctx, `SELECT wrapped_private_key FROM users WHERE id = $1 AND encryption_tier = 'uce'`, userID).Scan(&wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoPrivateKey
	}
	if err != nil {
		return nil, fmt.Errorf("archive: read private key: %w", store.Translate(err))
	}
	priv, err := crypto.UnwrapPrivateKey(key, userID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoPrivateKey, err)
	}
	return priv, nil
}

// openFilenameBox opens a waiting media's filename, which the importer sealed to the
// user's public key as an intake box for the media's id (the filename as its content).
func openFilenameBox(priv []byte, mediaID string, box []byte) (string, error) {
	b, err := intake.Open(priv, mediaID, box)
	if err != nil {
		return "", err
	}
	return b.Content, nil
}
