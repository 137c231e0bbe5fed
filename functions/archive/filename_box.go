package archive

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// TEMPORARY until shared/intake lands (merge of i-intake).
func (s *server) privateKey(ctx context.Context, tx pgx.Tx, userID string, key []byte) ([]byte, error) {
	return nil, errors.New("archive: intake not merged yet")
}

func openFilenameBox(priv []byte, mediaID string, box []byte) (string, error) {
	return "", errors.New("archive: intake not merged yet")
}
