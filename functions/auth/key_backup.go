package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// maxKeyBackupBytes bounds a key backup (the decoded ciphertext): a wrapped private key
// and what a client keeps beside it fit many times over.
const maxKeyBackupBytes = 64 << 10

// keyBackupBodyLimit is the body limit of PUT /key-backup: the base64 of the largest
// backup and the JSON around it.
const keyBackupBodyLimit = maxKeyBackupBytes*4/3 + 1024

var (
	errE2EOnly = httpapi.NewError(http.StatusForbidden, "feature_unavailable_for_tier",
		"key backups are for the e2e tier; a uce account's keys are wrapped by the server")
	errKeyBackupTooLarge = httpapi.NewError(http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("the key backup must be at most %d bytes", maxKeyBackupBytes))
	errNoKeyBackup = httpapi.NewError(http.StatusNotFound, "not_found", "no key backup is stored")
)

type putKeyBackupRequest struct {
	Ciphertext string `json:"ciphertext"`
}

// blob returns the backup's bytes: 422 for an empty or malformed ciphertext, 413 for one
// above maxKeyBackupBytes.
func (req putKeyBackupRequest) blob() ([]byte, error) {
	blob, err := base64.StdEncoding.DecodeString(req.Ciphertext)
	switch {
	case err != nil || len(blob) == 0:
		return nil, httpapi.Invalid(map[string]string{"ciphertext": "must be non-empty standard base64"})
	case len(blob) > maxKeyBackupBytes:
		return nil, errKeyBackupTooLarge
	}
	return blob, nil
}

type keyBackupJSON struct {
	Ciphertext string    `json:"ciphertext"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// e2eCaller returns the caller when the caller's tier is e2e, else errE2EOnly.
func e2eCaller(r *http.Request) (httpapi.Caller, error) {
	c, err := httpapi.CallerOf(r)
	if err != nil {
		return c, err
	}
	if c.Tier != "e2e" {
		return c, errE2EOnly
	}
	return c, nil
}

// putKeyBackup stores (or replaces) the caller's key backup: bytes the client encrypted,
// which the server keeps as they are and cannot open.
func (s *server) putKeyBackup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := e2eCaller(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req putKeyBackupRequest
	if err := httpapi.DecodeJSON(w, r, &req, keyBackupBodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	blob, err := req.blob()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	err = store.Transact(ctx, s.db, func(tx pgx.Tx) error {
		// The account must be live: a deletion erases the backup and must not find it
		// written again behind it.
		if err := lockLiveUser(ctx, tx, c.UserID); err != nil {
			return err
		}
		return upsertKeyBackup(ctx, tx, c.UserID, blob)
	})
	if errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, httpapi.ErrUnauthorized)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: put key backup: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getKeyBackup answers the caller's key backup, or 404 when none is stored.
func (s *server) getKeyBackup(w http.ResponseWriter, r *http.Request) {
	c, err := e2eCaller(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	blob, updated, err := keyBackupOf(r.Context(), s.db, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		httpapi.Fail(w, r, errNoKeyBackup)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: get key backup: %w", err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, keyBackupJSON{Ciphertext: base64.StdEncoding.EncodeToString(blob), UpdatedAt: updated.UTC()})
}

// upsertKeyBackup stores the user's backup, replacing an earlier one.
func upsertKeyBackup(ctx context.Context, db store.DBTX, userID string, blob []byte) error {
	_, err := db.Exec(ctx, `
		INSERT INTO key_backups (user_id, ciphertext) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = now()`,
		userID, blob)
	if err != nil {
		return fmt.Errorf("auth: upsert key backup: %w", store.Translate(err))
	}
	return nil
}

// keyBackupOf reads the user's backup; none is store.ErrNotFound.
func keyBackupOf(ctx context.Context, db store.DBTX, userID string) ([]byte, time.Time, error) {
	var blob []byte
	var updated time.Time
	err := db.QueryRow(ctx, `SELECT ciphertext, updated_at FROM key_backups WHERE user_id = $1`, userID).Scan(&blob, &updated)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("auth: key backup: %w", store.Translate(err))
	}
	return blob, updated, nil
}
