package archive

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// finalizeBatch is how many waiting media one transaction gives their rows.
const finalizeBatch = 100

// waitingMedia is a row of import_media: a uce import's media whose bytes are in place
// but whose media row needs the filename sealed under the master key.
type waitingMedia struct {
	ID          string  `db:"id"`
	EntryID     *string `db:"entry_id"`
	ObjectKey   string  `db:"object_key"`
	FilenameBox []byte  `db:"filename_box"`
	ContentType string  `db:"content_type"`
	SizeBytes   int64   `db:"size_bytes"`
	SHA256      []byte  `db:"sha256"`
}

// finalizeImportMedia gives every media a uce import left waiting for the user its media
// row, with the filename opened from its box (sealed to the user's public key by the
// importer) and sealed under the master key as every uce filename is. It runs on the
// user's requests to the archive, which hold the key; each batch is one transaction under
// the user's media lock, so a waiting media becomes exactly one row.
func (s *server) finalizeImportMedia(ctx context.Context, userID string, key []byte) error {
	for {
		var n int
		err := store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
			if _, err := userlock.Lock(ctx, tx, userID, userlock.Media); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `
				SELECT id, entry_id, object_key, filename_box, content_type, size_bytes, sha256
				FROM import_media WHERE user_id = $1
				ORDER BY created_at, id LIMIT $2 FOR UPDATE`, userID, finalizeBatch)
			if err != nil {
				return fmt.Errorf("archive: waiting media: %w", store.Translate(err))
			}
			batch, err := pgx.CollectRows(rows, pgx.RowToStructByName[waitingMedia])
			if err != nil {
				return fmt.Errorf("archive: waiting media: %w", store.Translate(err))
			}
			n = len(batch)
			if n == 0 {
				return nil
			}
			priv, err := s.privateKey(ctx, tx, userID, key)
			if err != nil {
				return err
			}
			defer clear(priv)
			ids := make([]string, 0, n)
			for _, m := range batch {
				name, err := openFilenameBox(priv, m.ID, m.FilenameBox)
				if err != nil {
					return fmt.Errorf("archive: waiting media %s: %w", m.ID, err)
				}
				sealed, err := crypto.Seal(key, []byte(name), crypto.AD{Owner: userID, Record: m.ID, Purpose: "media.filename"})
				if err != nil {
					return fmt.Errorf("archive: seal filename: %w", err)
				}
				if _, err := mediarow.InsertReady(ctx, tx, mediarow.Row{
					ID: m.ID, UserID: userID, EntryID: m.EntryID, ObjectKey: m.ObjectKey, FilenameCT: sealed,
					ContentType: m.ContentType, SizeBytes: m.SizeBytes, SHA256: m.SHA256,
				}); err != nil {
					return err
				}
				ids = append(ids, m.ID)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM import_media WHERE user_id = $1 AND id = ANY($2::uuid[])`, userID, ids); err != nil {
				return fmt.Errorf("archive: waiting media: %w", store.Translate(err))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n < finalizeBatch {
			return nil
		}
	}
}
