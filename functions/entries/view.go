package entries

import (
	"encoding/base64"
	"time"
)

// entryMeta is what both tiers' entries share: the plaintext metadata.
type entryMeta struct {
	Mood       *string    `json:"mood"`
	Tags       []string   `json:"tags"`
	Source     string     `json:"source"`
	OccurredAt time.Time  `json:"occurred_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	DeletedAt  *time.Time `json:"deleted_at"`
	Version    int        `json:"version"`
}

// uceEntry is an entry as a uce client sees it: title and content decrypted.
type uceEntry struct {
	ID      string  `json:"id"`
	Title   *string `json:"title"`
	Content string  `json:"content"`
	entryMeta
}

// e2eEntry is an entry as an e2e client sees it: its envelope as it was sent.
type e2eEntry struct {
	ID         string `json:"id"`
	Ciphertext string `json:"ciphertext"`
	entryMeta
}

// plainBody is a uce title and content already in hand, which spares decrypting what the
// request just sent.
type plainBody struct {
	title   *string
	content string
}

// render turns a row into what the caller sees. A uce row is decrypted with the caller's
// key unless plain is given; one that does not authenticate gives errUnreadable.
func (c caller) render(row entryRow, plain *plainBody) (any, error) {
	meta := entryMeta{
		Mood:       row.Mood,
		Tags:       row.Tags,
		Source:     row.Source,
		OccurredAt: row.OccurredAt.UTC(),
		CreatedAt:  row.CreatedAt.UTC(),
		UpdatedAt:  row.UpdatedAt.UTC(),
		Version:    row.Version,
	}
	if meta.Tags == nil {
		meta.Tags = []string{}
	}
	if row.DeletedAt != nil {
		d := row.DeletedAt.UTC()
		meta.DeletedAt = &d
	}
	if c.tier == tierE2E {
		if row.Ciphertext == nil {
			return nil, errUnreadable
		}
		return e2eEntry{ID: row.ID, Ciphertext: base64.StdEncoding.EncodeToString(row.Ciphertext), entryMeta: meta}, nil
	}
	if plain == nil {
		title, content, err := openBody(c.key, c.userID, row)
		if err != nil {
			return nil, err
		}
		plain = &plainBody{title: title, content: content}
	}
	return uceEntry{ID: row.ID, Title: plain.title, Content: plain.content, entryMeta: meta}, nil
}

// renderAll renders rows; the first that does not authenticate fails the whole answer.
func (c caller) renderAll(rows []entryRow) ([]any, error) {
	items := make([]any, 0, len(rows))
	for _, row := range rows {
		v, err := c.render(row, nil)
		if err != nil {
			return nil, unreadableEntry{id: row.ID, err: err}
		}
		items = append(items, v)
	}
	return items, nil
}

// pageView is a page of entries. For the sync feed, SyncCursor is the position to resume
// from next time, present even on the last page.
type pageView struct {
	Items      []any   `json:"items"`
	NextCursor *string `json:"next_cursor"`
	SyncCursor *string `json:"sync_cursor,omitempty"`
}

// historyView is an entry's history.
type historyView struct {
	Items []historyItem `json:"items"`
}
