package entries

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xmojo/diary/shared/entrybody"
)

// entryMeta is what both tiers' entries share: the plaintext metadata.
type entryMeta struct {
	Mood   *string  `json:"mood"`
	Tags   []string `json:"tags"`
	Source string   `json:"source"`
	// The times are RFC 3339 in UTC (jsonTime), formatted once when the view is made:
	// encoding/json's time.Time goes through MarshalJSON and then re-scans its output,
	// which was a quarter of a list page's encoding (BenchmarkRenderPage).
	OccurredAt string  `json:"occurred_at"`
	CreatedAt  string  `json:"created_at"`
	UpdatedAt  string  `json:"updated_at"`
	DeletedAt  *string `json:"deleted_at"`
	Version    int     `json:"version"`
}

// entryView is an entry as its owner sees it: the id, the body of the caller's tier, and
// the plaintext metadata. render sets exactly one of uceBody and e2eBody, by the caller's
// tier; encoding/json leaves out the fields of a nil embedded pointer, so a uce entry is
// {id, title, content, mood, ...} and an e2e entry {id, ciphertext, mood, ...}.
type entryView struct {
	ID string `json:"id"`
	*uceBody
	*e2eBody
	entryMeta
}

// jsonTime is t as encoding/json writes a time.Time (RFC 3339 with the fraction it has),
// in UTC.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// uceBody is a uce entry's title and content, decrypted (or as the request just sent
// them, which spares decrypting them again). A pending entry (an intake box not yet
// redeemed, shared/intake) has neither: both are null and Pending is true.
type uceBody struct {
	Title   *string `json:"title"`
	Content *string `json:"content"`
	Pending bool    `json:"pending"`
}

// plainBody is the uceBody of a readable entry.
func plainBody(title *string, content string) *uceBody {
	return &uceBody{Title: title, Content: &content}
}

// e2eBody is an e2e entry's ciphertext as stored: the client's envelope, or an intake box
// (shared/intake), which CiphertextFormat tells apart.
type e2eBody struct {
	Ciphertext       string `json:"ciphertext"`
	CiphertextFormat string `json:"ciphertext_format"`
}

// ciphertextFormatClient is the ciphertext_format of the client's own envelope.
const ciphertextFormatClient = "client"

// render turns a row into what the caller sees. A uce row is decrypted with the caller's
// key unless plain is given; one that does not authenticate gives entrybody.ErrUnreadable.
func (c caller) render(row entryRow, plain *uceBody) (entryView, error) {
	view := entryView{ID: row.ID, entryMeta: entryMeta{
		Mood:       row.Mood,
		Tags:       row.Tags,
		Source:     row.Source,
		OccurredAt: jsonTime(row.OccurredAt),
		CreatedAt:  jsonTime(row.CreatedAt),
		UpdatedAt:  jsonTime(row.UpdatedAt),
		Version:    row.Version,
	}}
	if view.Tags == nil {
		view.Tags = []string{}
	}
	if row.DeletedAt != nil {
		d := jsonTime(*row.DeletedAt)
		view.DeletedAt = &d
	}
	if c.tier == tierE2E {
		if row.Ciphertext == nil {
			return entryView{}, entrybody.ErrUnreadable
		}
		view.e2eBody = &e2eBody{Ciphertext: base64.StdEncoding.EncodeToString(row.Ciphertext), CiphertextFormat: ciphertextFormatClient}
		if row.CiphertextFormat != nil {
			view.CiphertextFormat = *row.CiphertextFormat
		}
		return view, nil
	}
	if row.Pending && plain == nil {
		view.uceBody = &uceBody{Pending: true}
		return view, nil
	}
	if plain == nil {
		title, content, err := entrybody.Open(c.key, c.userID, row.ID, row.BodyVersion, entrybody.Sealed{Title: row.TitleCT, Content: row.ContentCT})
		if err != nil {
			return entryView{}, err
		}
		plain = plainBody(title, content)
	}
	view.uceBody = plain
	return view, nil
}

// renderAll renders rows; the first that does not authenticate fails the whole answer, so
// every item is rendered before the first byte is written. It drops each row's body once
// rendered, so a page holds its entries once (as ciphertext, then as what the caller
// sees), never twice over.
func (c caller) renderAll(rows []entryRow) ([]entryView, error) {
	items := make([]entryView, 0, len(rows))
	for i := range rows {
		v, err := c.render(rows[i], nil)
		if err != nil {
			return nil, unreadable(rows[i].ID, err)
		}
		rows[i].TitleCT, rows[i].ContentCT, rows[i].Ciphertext = nil, nil, nil
		items = append(items, v)
	}
	return items, nil
}

// pageView is a page of entries.
type pageView struct {
	Items []entryView `json:"items"`
	pageCursors
}

// pageCursors are where a page goes on. For the sync feed, SyncCursor is the position to
// resume from next time, present even on the last page.
type pageCursors struct {
	NextCursor *string `json:"next_cursor"`
	SyncCursor *string `json:"sync_cursor,omitempty"`
}

// writePage answers 200 with page, the same JSON as httpapi.WriteJSON would write, but
// encoded one item at a time, each dropped once written: the page's JSON is never held
// whole, only one item's (up to 6 times its text, for text of control characters that
// JSON escapes as \u00XX) and a pageBufferBytes buffer.
func writePage(w http.ResponseWriter, page pageView) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := pageBuffers.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() {
		bw.Reset(nil)
		pageBuffers.Put(bw)
	}()
	err := encodePage(bw, page)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		slog.Debug("write page", "error", err.Error())
	}
}

// pageBufferBytes is how much of a page's JSON is gathered before it goes to the
// connection: a default page of small entries (about 30 KB) in one write instead of one
// per entry (net/http's own buffer is 4 KiB), each of which was a system call.
const pageBufferBytes = 32 << 10

// pageBuffers are the page writers' buffers, kept between requests.
var pageBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, pageBufferBytes) }}

func encodePage(w io.Writer, page pageView) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // as httpapi.WriteJSON
	tail, err := json.Marshal(page.pageCursors)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, `{"items":[`); err != nil {
		return err
	}
	for i := range page.Items {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(page.Items[i]); err != nil {
			return err
		}
		page.Items[i] = entryView{}
	}
	// tail is {"next_cursor":...}: the page's object goes on with its fields.
	_, err = io.WriteString(w, "],"+string(tail[1:])+"\n")
	return err
}

// historyView is an entry's history.
type historyView struct {
	Items []historyItem `json:"items"`
}
