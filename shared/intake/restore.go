package intake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/entryhistory"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// Restored is an e2e entry brought back from the user's own export: the ciphertext as the
// export holds it, which the server cannot read and does not re-seal.
type Restored struct {
	UserID string
	// EntryID is the new entry's id (the importer derives it from the exported id).
	EntryID    string
	Ciphertext []byte
	// CiphertextFormat is the exported entry's: nil for the client's own envelope, Format
	// for an intake box delivered to the account it was exported from (sealed to the same
	// public key only if the account is the same: the client finds out when it opens it).
	CiphertextFormat *string
	Source           string
	OccurredAt       time.Time
	Mood             *string
	Tags             []string
}

// Restore inserts an e2e user's exported ciphertext as a new entry in tx, the way Deliver
// inserts a box: under the user's entry lock, at version 1 with a "created" history row,
// tags and mood normalised, the size limit of every e2e body. It is for the archive import
// of an e2e account's own diary export, whose ciphertext must come back as it was
// (Deliver would seal plaintext, which the server does not have). A uce user gets
// ErrInvalid: their entries are imported in the clear, through Deliver.
func Restore(ctx context.Context, tx pgx.Tx, in Restored) (Delivered, error) {
	fields := map[string]string{}
	if !validEntryID(in.EntryID) {
		fields["entry_id"] = "must be a UUID in its canonical lower-case form"
	}
	switch {
	case len(in.Ciphertext) == 0:
		fields["ciphertext"] = "must not be empty"
	case len(in.Ciphertext) > entryfields.MaxCiphertextBytes:
		fields["ciphertext"] = fmt.Sprintf("must be at most %d bytes", entryfields.MaxCiphertextBytes)
	}
	if in.CiphertextFormat != nil && *in.CiphertextFormat != Format {
		fields["ciphertext_format"] = "must be " + Format + " or absent"
	}
	if !entryfields.ValidSource(in.Source) {
		fields["source"] = entryfields.SourceRule()
	}
	mood, tags := entryfields.NormaliseMeta(in.Mood, in.Tags, fields)
	in.Mood = mood
	if len(fields) > 0 {
		return Delivered{}, &InvalidError{Fields: fields}
	}
	at, err := userlock.Lock(ctx, tx, in.UserID, userlock.Entries)
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: restore: %w", err)
	}
	var tier string
	err = tx.QueryRow(ctx, `SELECT encryption_tier FROM users WHERE id = $1`, in.UserID).Scan(&tier)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivered{}, ErrUserNotFound
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: restore: read user: %w", store.Translate(err))
	}
	if tier != "e2e" {
		return Delivered{}, &InvalidError{Fields: map[string]string{"ciphertext": "is for e2e accounts"}}
	}
	occurred := in.OccurredAt.UTC().Truncate(time.Microsecond)
	if in.OccurredAt.IsZero() {
		occurred = at
	}
	var version int
	err = tx.QueryRow(ctx, `
		INSERT INTO entries (id, user_id, ciphertext, ciphertext_format, body_version, mood, source,
			occurred_at, created_at, updated_at, version, content_bytes, tags)
		VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $8, 1, $9, $10)
		RETURNING version`,
		in.EntryID, in.UserID, in.Ciphertext, in.CiphertextFormat, in.Mood, in.Source,
		occurred, at, len(in.Ciphertext), tags).Scan(&version)
	if store.IsUniqueViolation(err, "entries_pkey") {
		return Delivered{}, ErrEntryExists
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: restore: insert entry: %w", store.Translate(err))
	}
	if err := entryhistory.Record(ctx, tx, in.UserID, in.EntryID, entryhistory.Created, version, at); err != nil {
		return Delivered{}, fmt.Errorf("intake: restore: %w", err)
	}
	return Delivered{UserID: in.UserID, EntryID: in.EntryID, Change: entryhistory.Created, Version: version}, nil
}
