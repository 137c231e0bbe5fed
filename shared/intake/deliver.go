package intake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/entryhistory"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// Errors of Deliver that a caller records against the item it could not deliver (an
// import's errors list, a sync job's message); none holds any of the content.
var (
	// ErrInvalid: the item breaks a rule every entry obeys (entryfields): too long a
	// title or content, bad tags, mood or source. Its message names the fields.
	ErrInvalid = errors.New("intake: invalid entry")
	// ErrTooLarge: the sealed box exceeds what an entry may store
	// (entryfields.MaxCiphertextBytes), e.g. content near the limit whose JSON escaping
	// grows it past the room left for the envelope.
	ErrTooLarge = errors.New("intake: entry too large")
	// ErrUserNotFound: no such user (an account deleted meanwhile).
	ErrUserNotFound = errors.New("intake: user not found")
	// ErrEntryExists: the caller-chosen entry id is taken.
	ErrEntryExists = errors.New("intake: entry id already exists")
)

// Incoming is one item to deliver as an entry of a user.
type Incoming struct {
	UserID string
	// EntryID is the new entry's id; empty draws a fresh UUIDv7, as entries' create does.
	// A caller that derives ids (to make a redelivered event create nothing twice) sets it.
	EntryID string
	Body    Body
	// Source is where the entry comes from: one of entryfields.Sources other than "app",
	// e.g. "facebook", "import" or "dayone".
	Source string
	// OccurredAt is when it happened (the post's time); zero means the time of delivery.
	OccurredAt time.Time
	Mood       *string
	Tags       []string
}

// Delivered is what the caller needs once its transaction commits, to emit the
// entry.changed event entries emits for a create (eventing.EntryChanged: user id, entry
// id, Change, Version). Ids only.
type Delivered struct {
	UserID  string
	EntryID string
	// Change is "created", the kind entries records in entry_events and sends.
	Change  string
	Version int
	// Pending is true for a uce user's entry, which waits for redemption; false for e2e.
	Pending bool
}

// Deliver seals in.Body to the user's public key and inserts it as a new entry in tx, the
// way the entries function creates one: under the user's entry lock (userlock.Entries,
// taken first), at version 1 with a "created" history row, change_seq drawn by the
// trigger, tags normalised onto the row, content_bytes the stored box size. An e2e user's
// entry is complete (ciphertext = the box, ciphertext_format = Format); a uce user's is
// pending, and pending marks the user in Redis (Pending.Mark) so their next request
// redeems it. The caller commits tx and then emits the entry.changed event from the
// result; deduplication by an external id is the caller's, in the same tx.
//
// Entries do not count against the storage quota (STORAGE_QUOTA_BYTES, shared/storage:
// media bytes only); a delivered entry obeys the per-entry limits instead, exactly as one
// the user writes (ErrInvalid, ErrTooLarge).
func Deliver(ctx context.Context, tx pgx.Tx, pending *Pending, in Incoming) (Delivered, error) {
	n, err := in.normalise()
	if err != nil {
		return Delivered{}, err
	}
	at, err := userlock.Lock(ctx, tx, n.UserID, userlock.Entries)
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: deliver: %w", err)
	}
	var (
		tier      string
		publicKey []byte
	)
	err = tx.QueryRow(ctx, `SELECT encryption_tier, public_key FROM users WHERE id = $1`, n.UserID).Scan(&tier, &publicKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivered{}, ErrUserNotFound
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: deliver: read user: %w", store.Translate(err))
	}
	box, err := Seal(publicKey, n.EntryID, n.Body)
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: deliver: %w", err)
	}
	if len(box) > entryfields.MaxCiphertextBytes {
		return Delivered{}, fmt.Errorf("%w: the sealed entry is %d bytes, more than %d", ErrTooLarge, len(box), entryfields.MaxCiphertextBytes)
	}
	occurred := n.OccurredAt
	if occurred.IsZero() {
		occurred = at
	}
	var ciphertext, intakeBox []byte
	var format *string
	if tier == "uce" {
		intakeBox = box
	} else {
		ciphertext = box
		f := Format
		format = &f
	}
	var version int
	err = tx.QueryRow(ctx, `
		INSERT INTO entries (id, user_id, ciphertext, ciphertext_format, intake_box, body_version, mood, source,
			occurred_at, created_at, updated_at, version, content_bytes, tags)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $9, 1, $10, $11)
		RETURNING version`,
		n.EntryID, n.UserID, ciphertext, format, intakeBox, n.Mood, n.Source,
		occurred, at, len(box), n.Tags).Scan(&version)
	if store.IsUniqueViolation(err, "entries_pkey") {
		return Delivered{}, ErrEntryExists
	}
	if err != nil {
		return Delivered{}, fmt.Errorf("intake: deliver: insert entry: %w", store.Translate(err))
	}
	if err := entryhistory.Record(ctx, tx, n.UserID, n.EntryID, entryhistory.Created, version, at); err != nil {
		return Delivered{}, fmt.Errorf("intake: deliver: %w", err)
	}
	d := Delivered{UserID: n.UserID, EntryID: n.EntryID, Change: entryhistory.Created, Version: version, Pending: tier == "uce"}
	if d.Pending {
		// Marked while the entry lock is held, so a redemption that clears the mark (under
		// the same lock) cannot slip between this insert's commit and the mark.
		if err := pending.Mark(ctx, n.UserID); err != nil {
			return Delivered{}, fmt.Errorf("intake: deliver: %w", err)
		}
	}
	return d, nil
}

// normalise checks in against the rules of every entry and returns it normalised, with
// its entry id drawn when none was given.
func (in Incoming) normalise() (Incoming, error) {
	fields := map[string]string{}
	if _, err := uuid.Parse(in.UserID); err != nil {
		fields["user_id"] = "must be a UUID"
	}
	if in.EntryID == "" {
		in.EntryID = uuid.Must(uuid.NewV7()).String()
	} else if !validEntryID(in.EntryID) {
		fields["entry_id"] = "must be a UUID in its canonical lower-case form"
	}
	maps.Copy(fields, entryfields.CheckText(in.Body.Title, in.Body.Content))
	if in.Source == entryfields.DefaultSource || !entryfields.ValidSource(in.Source) {
		fields["source"] = "must be one of " + strings.Join(entryfields.Sources[1:], ", ")
	}
	in.Mood, in.Tags = entryfields.NormaliseMeta(in.Mood, in.Tags, fields)
	if len(fields) > 0 {
		return Incoming{}, &InvalidError{Fields: fields}
	}
	in.OccurredAt = in.OccurredAt.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	return in, nil
}

// InvalidError is the ErrInvalid of an item, with a message per field at fault (never any
// of the content).
type InvalidError struct {
	Fields map[string]string
}

// Error lists the fields and their rules.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("%v: %v", ErrInvalid, e.Fields)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }
