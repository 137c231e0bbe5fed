package entries

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/store"
)

// entryRow is a row of entries.
type entryRow struct {
	ID         string `db:"id"`
	TitleCT    []byte `db:"title_ct"`
	ContentCT  []byte `db:"content_ct"`
	Ciphertext []byte `db:"ciphertext"`
	// CiphertextFormat is nil for the client's own envelope, intake.Format for an intake
	// box (shared/intake).
	CiphertextFormat *string `db:"ciphertext_format"`
	// Pending marks a uce entry whose intake box awaits redemption: it has no text yet.
	Pending     bool       `db:"pending"`
	BodyVersion int        `db:"body_version"`
	Mood        *string    `db:"mood"`
	Source      string     `db:"source"`
	OccurredAt  time.Time  `db:"occurred_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	DeletedAt   *time.Time `db:"deleted_at"`
	Version     int        `db:"version"`
	ChangeSeq   int64      `db:"change_seq"`
	Tags        []string   `db:"tags"`
}

// entryColumns selects an entryRow from entries aliased e. The tag names live on the row
// itself (entries.tags, the one place tags are stored: migration 0007).
const entryColumns = `e.id, e.title_ct, e.content_ct, e.ciphertext, e.ciphertext_format, e.intake_box IS NOT NULL AS pending,
	e.body_version, e.mood, e.source, e.occurred_at, e.created_at, e.updated_at, e.deleted_at, e.version, e.change_seq, e.tags`

// scanEntry scans a row of entryColumns by position, skipping RowToStructByName's
// matching of columns to fields by name (CollectRows with it, decoding included, was about
// a sixth of a list's CPU in a profile of the dev server).
func scanEntry(row pgx.CollectableRow) (entryRow, error) {
	var e entryRow
	err := row.Scan(e.columns()...)
	return e, err
}

// columns are the scan destinations of entryColumns, in their order.
func (e *entryRow) columns() []any {
	return []any{&e.ID, &e.TitleCT, &e.ContentCT, &e.Ciphertext, &e.CiphertextFormat, &e.Pending, &e.BodyVersion, &e.Mood, &e.Source,
		&e.OccurredAt, &e.CreatedAt, &e.UpdatedAt, &e.DeletedAt, &e.Version, &e.ChangeSeq, &e.Tags}
}

// collectPage collects the rows of a pageQuery and reports whether more rows follow the
// page's last.
func collectPage(rows pgx.Rows) ([]entryRow, bool, error) {
	more := false
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entryRow, error) {
		var e entryRow
		err := row.Scan(append(e.columns(), &more)...)
		return e, err
	})
	return list, more, err
}

func collectEntry(rows pgx.Rows) (entryRow, error) {
	return pgx.CollectExactlyOneRow(rows, scanEntry)
}

// newEntry is what insertEntry writes.
type newEntry struct {
	id, userID string
	body       entrybody.Sealed // uce
	ciphertext []byte           // e2e
	mood       *string
	source     string
	occurredAt time.Time
	tags       []string // normalised, sorted
	at         time.Time
}

// insertEntry writes a new entry at version 1 with its tag names.
func insertEntry(ctx context.Context, db store.DBTX, n newEntry) (entryRow, error) {
	rows, err := db.Query(ctx, `
		INSERT INTO entries AS e (id, user_id, title_ct, content_ct, ciphertext, body_version, mood, source,
			occurred_at, created_at, updated_at, version, content_bytes, tags)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $9, 1, $10, $11)
		RETURNING `+entryColumns,
		n.id, n.userID, n.body.Title, n.body.Content, n.ciphertext, n.mood, n.source,
		n.occurredAt, n.at, storedBytes(n.body, n.ciphertext), tagNames(n.tags))
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: insert entry: %w", store.Translate(err))
	}
	row, err := collectEntry(rows)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: insert entry: %w", store.Translate(err))
	}
	return row, nil
}

// tagNames is names as the tags column takes them: never NULL.
func tagNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

func storedBytes(b entrybody.Sealed, ciphertext []byte) int {
	return b.Size() + len(ciphertext)
}

// findEntry returns the user's entry; a deleted one only when includeDeleted.
func findEntry(ctx context.Context, db store.DBTX, userID, id string, includeDeleted bool) (entryRow, error) {
	rows, err := db.Query(ctx, `
		SELECT `+entryColumns+`
		FROM entries e
		WHERE e.id = $1 AND e.user_id = $2 AND ($3 OR e.deleted_at IS NULL)`,
		id, userID, includeDeleted)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: get entry: %w", store.Translate(err))
	}
	row, err := collectEntry(rows)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: get entry: %w", store.Translate(err))
	}
	return row, nil
}

// entryState is what a write checks before it changes an entry.
type entryState struct {
	Version   int        `db:"version"`
	DeletedAt *time.Time `db:"deleted_at"`
}

// getEntryState returns the version and deletion time of the user's entry, deleted or not.
func getEntryState(ctx context.Context, db store.DBTX, userID, id string) (entryState, error) {
	var s entryState
	err := db.QueryRow(ctx, `SELECT version, deleted_at FROM entries WHERE id = $1 AND user_id = $2`,
		id, userID).Scan(&s.Version, &s.DeletedAt)
	if err != nil {
		return entryState{}, fmt.Errorf("entries: get entry state: %w", store.Translate(err))
	}
	return s, nil
}

// entryUpdate is what updateEntryBody writes over the entry at version from.
type entryUpdate struct {
	id, userID string
	from       int // the version being replaced; the new one is from+1
	body       entrybody.Sealed
	ciphertext []byte
	mood       *string
	source     *string    // nil keeps the source
	occurredAt *time.Time // nil keeps occurred_at
	tags       []string   // replaces the tag names
	at         time.Time
}

// updateEntryBody replaces a live entry's body and metadata (tag names included) if it is
// still at version u.from, and bumps its version. The new body is the caller's: an intake
// box the entry held (pending or e2e) goes. A changed or deleted entry gives
// store.ErrNotFound.
func updateEntryBody(ctx context.Context, db store.DBTX, u entryUpdate) (entryRow, error) {
	rows, err := db.Query(ctx, `
		UPDATE entries AS e SET
			title_ct = $4, content_ct = $5, ciphertext = $6, body_version = $3 + 1,
			intake_box = NULL, ciphertext_format = NULL,
			mood = $7, source = coalesce($8, e.source), occurred_at = coalesce($9, e.occurred_at),
			updated_at = $10, version = $3 + 1, content_bytes = $11, tags = $12
		WHERE e.id = $1 AND e.user_id = $2 AND e.version = $3 AND e.deleted_at IS NULL
		RETURNING `+entryColumns,
		u.id, u.userID, u.from, u.body.Title, u.body.Content, u.ciphertext,
		u.mood, u.source, u.occurredAt, u.at, storedBytes(u.body, u.ciphertext), tagNames(u.tags))
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: update entry: %w", store.Translate(err))
	}
	row, err := collectEntry(rows)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: update entry: %w", store.Translate(err))
	}
	return row, nil
}

// setEntryDeleted soft-deletes (deletedAt set) or restores (deletedAt nil) the entry at
// version from, and bumps its version. A changed entry gives store.ErrNotFound.
func setEntryDeleted(ctx context.Context, db store.DBTX, userID, id string, from int, deletedAt *time.Time, at time.Time) (entryRow, error) {
	rows, err := db.Query(ctx, `
		UPDATE entries AS e SET deleted_at = $4, updated_at = $5, version = $3 + 1
		WHERE e.id = $1 AND e.user_id = $2 AND e.version = $3
		RETURNING `+entryColumns,
		id, userID, from, deletedAt, at)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: set entry deleted: %w", store.Translate(err))
	}
	row, err := collectEntry(rows)
	if err != nil {
		return entryRow{}, fmt.Errorf("entries: set entry deleted: %w", store.Translate(err))
	}
	return row, nil
}

// pageSize bounds a page of the list or the feed: at most limit entries, and no more than
// maxBytes of stored body (content_bytes: the ciphertext octets, which bound the
// plaintext and its JSON) in all, except that the first entry always comes whatever its
// size, so every page moves on.
type pageSize struct {
	limit    int
	maxBytes int64
}

// pageQuery wraps a query of entries e (from its FROM on, filters included) into one that
// returns a page of it in order (an ORDER BY over unique keys): at most size.limit rows,
// cut before the first whose content_bytes would take the total over size.maxBytes (the
// first row always kept), with entryColumns and then has_next, whether any row follows
// that one. The window reads only the narrow columns of the rows it passes over, and a
// body is fetched from TOAST only for a row that is sent, so the database neither reads
// nor sends the bodies past the cut. arg adds a parameter and returns its placeholder.
func pageQuery(from, order string, size pageSize, arg func(any) string) string {
	return `SELECT ` + entryColumns + `, e.has_next FROM (
		SELECT e.*, row_number() OVER w AS page_n, sum(e.content_bytes) OVER w AS page_bytes,
			lead(true, 1, false) OVER w AS has_next
		` + from + `
		WINDOW w AS (ORDER BY ` + order + ` ROWS UNBOUNDED PRECEDING)
		ORDER BY ` + order + ` LIMIT ` + arg(size.limit) + `
	) e
	WHERE e.page_n = 1 OR e.page_bytes <= ` + arg(size.maxBytes) + `
	ORDER BY ` + order
}

// placeholders returns an arg function for pageQuery that appends to args.
func placeholders(args *[]any) func(any) string {
	return func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
}

// listFilter selects a page of the user's entries, newest occurred_at first.
type listFilter struct {
	size           pageSize
	after          *keyset.Position // the last entry of the previous page
	mood           *string
	source         *string
	tags           []string // entries carrying every one of them
	from, to       *time.Time
	includeDeleted bool
}

// findEntries returns a page of the user's entries and whether more follow it.
func findEntries(ctx context.Context, db store.DBTX, userID string, f listFilter) ([]entryRow, bool, error) {
	sql, args := listQuery(userID, f)
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("entries: list entries: %w", store.Translate(err))
	}
	list, more, err := collectPage(rows)
	if err != nil {
		return nil, false, fmt.Errorf("entries: list entries: %w", store.Translate(err))
	}
	return list, more, nil
}

// listQuery builds findEntries' SQL with only the conditions in use, so every page is an
// index range scan on (user_id, occurred_at DESC, id DESC).
func listQuery(userID string, f listFilter) (string, []any) {
	args := []any{userID}
	arg := placeholders(&args)
	where := []string{"e.user_id = $1"}
	if !f.includeDeleted {
		where = append(where, "e.deleted_at IS NULL")
	}
	if f.mood != nil {
		where = append(where, "e.mood = "+arg(*f.mood))
	}
	if f.source != nil {
		where = append(where, "e.source = "+arg(*f.source))
	}
	if f.from != nil {
		where = append(where, "e.occurred_at >= "+arg(*f.from))
	}
	if f.to != nil {
		where = append(where, "e.occurred_at < "+arg(*f.to))
	}
	if f.after != nil {
		where = append(where, "(e.occurred_at, e.id) < ("+arg(f.after.At)+", "+arg(f.after.ID)+"::uuid)")
	}
	if len(f.tags) > 0 {
		// Containment, which the GIN index entries_tags_idx answers: the planner starts from
		// it for a rare tag, and walks the list's own index checking each row for a common
		// one (docs/benchmarks.md, "Tag filter").
		where = append(where, "e.tags @> "+arg(f.tags)+"::text[]")
	}
	return pageQuery(`FROM entries e WHERE `+strings.Join(where, " AND "), `e.occurred_at DESC, e.id DESC`, f.size, arg), args
}

// feedPosition is where a sync feed page starts: after a change_seq, or after a time.
type feedPosition struct {
	afterSeq  int64
	afterTime *time.Time
	// since is when the client's copy was last current: the time a cursor was issued, or
	// the time given. fromStart marks a sync from the beginning (the client holds
	// nothing), which no purge can have made stale.
	since     time.Time
	fromStart bool
}

// findChanges returns a page of the user's entries, deleted ones included, whose last
// change is after pos, oldest change first, and whether more follow it. Each entry
// appears once, in its latest state, at the place of its latest change.
func findChanges(ctx context.Context, db store.DBTX, userID string, pos feedPosition, size pageSize) ([]entryRow, bool, error) {
	args := []any{userID}
	arg := placeholders(&args)
	var from string
	if pos.afterTime != nil {
		from = `FROM entries e WHERE e.user_id = $1 AND e.updated_at > ` + arg(*pos.afterTime)
	} else {
		from = `FROM entries e WHERE e.user_id = $1 AND e.change_seq > ` + arg(pos.afterSeq)
	}
	rows, err := db.Query(ctx, pageQuery(from, `e.change_seq`, size, arg), args...)
	if err != nil {
		return nil, false, fmt.Errorf("entries: list changes: %w", store.Translate(err))
	}
	list, more, err := collectPage(rows)
	if err != nil {
		return nil, false, fmt.Errorf("entries: list changes: %w", store.Translate(err))
	}
	return list, more, nil
}

// lastChangeSeq returns the highest change_seq among the user's entries, 0 when none: a
// feed position after every change committed so far.
func lastChangeSeq(ctx context.Context, db store.DBTX, userID string) (int64, error) {
	var seq int64
	err := db.QueryRow(ctx, `SELECT coalesce(max(change_seq), 0) FROM entries WHERE user_id = $1`, userID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("entries: last change seq: %w", store.Translate(err))
	}
	return seq, nil
}

// entryExists reports whether the user has the entry, deleted or not.
func entryExists(ctx context.Context, db store.DBTX, userID, id string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM entries WHERE id = $1 AND user_id = $2)`, id, userID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("entries: entry exists: %w", store.Translate(err))
	}
	return ok, nil
}
