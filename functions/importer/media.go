package importer

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// maxFilenameBytes bounds a media's filename, as the media API does.
const maxFilenameBytes = 1024

// media imports one media of the zip for the entry (nil: none): its bytes are hashed
// through a temporary file (at most 50 MiB, removed at once), checked against what the zip
// declares, and stored under the user's prefix unless the user stores the same bytes
// already (SHA-256 and size), in which case the new media shares that object, as the
// media function's deduplication does. e2e media get their row at once; uce media wait in
// import_media, their filename sealed to the user's public key, until the archive function
// gives them a row with the key (see functions/archive/finalize.go).
func (r *run) media(ctx context.Context, a *archive, source string, m mediaRef, entryID *string) error {
	rec, err := recordedItems(ctx, r.f.db, r.imp.UserID, "media", source, []string{m.sourceID})
	if err != nil {
		return err
	}
	if prev, ok := rec[m.sourceID]; ok {
		if prev.importID != r.imp.ID {
			return r.record(ctx, counts{skipped: 1}, r.progress())
		}
		return nil
	}
	if m.invalid != "" {
		r.itemError(m.label, m.invalid)
		return nil
	}
	if !mediarow.Allowed(m.contentType) {
		r.itemError(m.label, "not imported: media of this type are not kept")
		return nil
	}
	tmp, size, sum, err := r.spool(a, m)
	if msg := userMessage(err); msg != "" || errors.Is(err, errMissingFile) {
		if msg == "" {
			msg = "not imported: " + m.file + " is not in the zip"
		}
		r.itemError(m.label, msg)
		return nil
	}
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	mediaID := derivedID(r.imp.UserID, "media", source, m.sourceID)
	ownKey := mediarow.ObjectKey(r.imp.UserID, mediaID)
	put := func() error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewind media: %w", err)
		}
		return r.f.objects.Put(ctx, ownKey, tmp, size, sum, m.contentType)
	}
	// Looked up first without the lock, to spare copying bytes the user has; decided
	// again under it.
	_, stored, err := r.stored(ctx, r.f.db, sum, size)
	if err != nil {
		return err
	}
	copied := false
	if !stored {
		if err := put(); err != nil {
			return err
		}
		copied = true
	}
	var objectKey string
	var overQuota bool
	err = store.Transact(ctx, r.f.db, func(tx pgx.Tx) error {
		objectKey, overQuota = "", false
		if _, err := userlock.Lock(ctx, tx, r.imp.UserID, userlock.Media); err != nil {
			return err
		}
		key, ok, err := r.stored(ctx, tx, sum, size)
		if err != nil {
			return err
		}
		if ok {
			attached, err := mediarow.Attached(ctx, tx, r.imp.UserID, key, entryID)
			if err != nil {
				return err
			}
			if attached {
				// The entry has these bytes already (an export of this very account).
				if err := recordItem(ctx, tx, r.imp.UserID, "media", source, m.sourceID, r.imp.ID, mediaID); err != nil {
					return err
				}
				return r.recordIn(ctx, tx, counts{skipped: 1}, r.progress())
			}
			objectKey = key
		} else {
			if over, err := r.overQuota(ctx, tx, size); err != nil || over {
				overQuota = over
				return err
			}
			if !copied {
				if err := put(); err != nil {
					return err
				}
				copied = true
			}
			objectKey = ownKey
		}
		name := importFilename(m)
		if r.tier == "uce" {
			box, err := intake.Seal(r.publicKey, mediaID, intake.Body{Content: name})
			if err != nil {
				return fmt.Errorf("seal filename: %w", err)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO import_media (id, user_id, import_id, entry_id, object_key, filename_box, content_type, size_bytes, sha256)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (id) DO NOTHING`,
				mediaID, r.imp.UserID, r.imp.ID, entryID, objectKey, box, m.contentType, size, sum); err != nil {
				return fmt.Errorf("park media: %w", store.Translate(err))
			}
		} else if _, err := mediarow.InsertReady(ctx, tx, mediarow.Row{
			ID: mediaID, UserID: r.imp.UserID, EntryID: entryID, ObjectKey: objectKey, FilenameCT: []byte(name),
			ContentType: m.contentType, SizeBytes: size, SHA256: sum,
		}); err != nil {
			return err
		}
		if err := recordItem(ctx, tx, r.imp.UserID, "media", source, m.sourceID, r.imp.ID, mediaID); err != nil {
			return err
		}
		return r.recordIn(ctx, tx, counts{media: 1}, r.progress())
	})
	if err != nil {
		return err
	}
	if copied && objectKey != ownKey {
		// Not needed after all (the same bytes came in meanwhile, or no room): best effort,
		// the key is the media's own and nothing refers to it.
		if err := r.f.objects.Delete(ctx, ownKey); err != nil {
			r.logger.Warn("importer: an unused copy stays", "media_id", mediaID, "error", err.Error())
		}
	}
	if overQuota {
		r.itemError(m.label, "not imported: it does not fit in your storage quota")
	}
	return nil
}

// spool copies the media's file out of the zip into a temporary file, hashing it, and
// checks it against the zip's declaration: its size (at most 50 MiB), SHA-256 (diary) or
// MD5 (Day One). A mismatch is the user's (errBadInput).
func (r *run) spool(a *archive, m mediaRef) (*os.File, int64, []byte, error) {
	rc, declared, err := a.open(m.file)
	if err != nil {
		return nil, 0, nil, err
	}
	defer rc.Close()
	if declared > mediarow.MaxBytes {
		return nil, 0, nil, badInput("not imported: %s is larger than 50 MiB, the most a media may be", m.file)
	}
	tmp, err := os.CreateTemp(r.f.cfg.TempDir, "import-media-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("temporary file: %w", err)
	}
	sha, sum5 := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, sha, sum5), io.LimitReader(rc, mediarow.MaxBytes+1))
	fail := func(err error) (*os.File, int64, []byte, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, nil, err
	}
	if err != nil {
		return fail(err)
	}
	sum := sha.Sum(nil)
	switch {
	case n == 0:
		return fail(badInput("not imported: %s is empty", m.file))
	case n > mediarow.MaxBytes:
		return fail(badInput("not imported: %s is larger than 50 MiB, the most a media may be", m.file))
	case m.size >= 0 && n != m.size:
		return fail(badInput("not imported: %s does not have the size its manifest says", m.file))
	case m.sha256 != nil && !bytes.Equal(sum, m.sha256):
		return fail(badInput("not imported: %s does not match its SHA-256 in the manifest", m.file))
	case m.md5 != "" && hex.EncodeToString(sum5.Sum(nil)) != m.md5:
		return fail(badInput("not imported: %s does not match the MD5 Day One gives it", m.file))
	}
	return tmp, n, sum, nil
}

// stored finds the object of the user's that holds these bytes: a ready media's, or one a
// uce import has copied and left waiting. The media row found is locked FOR SHARE.
func (r *run) stored(ctx context.Context, db store.DBTX, sum []byte, size int64) (string, bool, error) {
	row, ok, err := mediarow.FindReady(ctx, db, r.imp.UserID, sum, size)
	if err != nil || ok {
		return row.ObjectKey, ok, err
	}
	var key string
	err = db.QueryRow(ctx, `
		SELECT object_key FROM import_media WHERE user_id = $1 AND sha256 = $2 AND size_bytes = $3
		ORDER BY created_at, id LIMIT 1`, r.imp.UserID, sum, size).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("waiting media: %w", store.Translate(err))
	}
	return key, true, nil
}

// overQuota reports whether size more bytes pass the user's quota: what the media count
// (storage.Quota.Check, under the media lock tx holds) plus the bytes uce imports have
// copied that wait for their rows.
func (r *run) overQuota(ctx context.Context, tx pgx.Tx, size int64) (bool, error) {
	var waiting int64
	if err := tx.QueryRow(ctx, `
		SELECT COALESCE(SUM(size_bytes), 0)::bigint
		FROM (SELECT DISTINCT ON (object_key) size_bytes FROM import_media
		      WHERE user_id = $1
		        AND object_key NOT IN (SELECT object_key FROM media WHERE user_id = $1 AND deleted_at IS NULL)
		      ORDER BY object_key) w`, r.imp.UserID).Scan(&waiting); err != nil {
		return false, fmt.Errorf("waiting bytes: %w", store.Translate(err))
	}
	err := r.f.cfg.Quota.Check(ctx, tx, r.imp.UserID, size+waiting)
	if errors.Is(err, storage.ErrQuotaExceeded) {
		return true, nil
	}
	return false, err
}

// importFilename is the media's filename as the zip gives it, or, when it gives none fit
// for a filename, one made of its source id and type.
func importFilename(m mediaRef) string {
	name := m.filename
	if name == "" || len(name) > maxFilenameBytes || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		name = m.sourceID
		if i := strings.IndexByte(m.contentType, '/'); i >= 0 {
			name += "." + m.contentType[i+1:]
		}
	}
	return name
}
