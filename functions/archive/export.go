package archive

import (
	"archive/zip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/store"
)

// Export formats.
const (
	formatDiary    = "diary"
	formatMarkdown = "markdown"
	formatDayOne   = "dayone"
)

// diaryFormatVersion is the version of the diary format's layout, in manifest.json.
const diaryFormatVersion = 1

const tierUCE = "uce"

var (
	errFormatForTier = httpapi.NewError(http.StatusForbidden, "feature_unavailable_for_tier",
		"this format needs the entries' text, which only your own devices can decrypt on an e2e account: export the diary format")
	errUnreadableEntry = errors.New("archive: an entry failed its integrity check")
)

// exportRun is one export: the caller, their key (uce), the snapshot it reads, the zip it
// writes and the counts that go into the manifest.
type exportRun struct {
	s      *server
	userID string
	tier   string
	key    []byte // uce only
	// priv is the uce user's X25519 private key, unwrapped once an entry still pending
	// redemption needs it (its intake box is opened in memory, nothing is written).
	priv []byte
	tx   pgx.Tx
	zw   *zip.Writer
	at   time.Time
}

// exportFormat reads ?format= for a caller of the tier: diary when absent; markdown and
// dayone (plain text) for uce only (403); anything else is a 422.
func exportFormat(q url.Values, tier string) (string, error) {
	format := q.Get("format")
	if !q.Has("format") {
		format = formatDiary
	}
	switch format {
	case formatDiary:
	case formatMarkdown, formatDayOne:
		if tier != tierUCE {
			return "", errFormatForTier
		}
	default:
		return "", httpapi.Invalid(map[string]string{"format": "must be diary, markdown or dayone"})
	}
	return format, nil
}

// export answers GET /export?format=: 200 application/zip, streamed. Everything that can
// be refused is refused before the first byte; a failure after it (S3 or the database gone
// mid-way) aborts the connection, so the client sees a broken download, never a zip that
// looks whole but lacks part of the diary.
func (s *server) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	format, err := exportFormat(r.URL.Query(), p.Tier)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	run := &exportRun{s: s, userID: p.UserID, tier: p.Tier, at: time.Now().UTC()}
	if p.Tier == tierUCE {
		if run.key, err = p.MasterKey(); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		// Media a uce import left waiting for this key get their rows first, so the
		// export holds them.
		if err := s.finalizeImportMedia(ctx, p.UserID, run.key); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	}
	// One snapshot for the whole export: entries and media agree with each other however
	// long the download takes.
	tx, err := s.svc.DB.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("archive: export: begin: %w", store.Translate(err)))
		return
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	run.tx = tx
	defer func() { clear(run.priv) }()

	name := fmt.Sprintf("diary-%s-%s.zip", format, run.at.Format("2006-01-02"))
	if format == formatDiary {
		name = fmt.Sprintf("diary-export-%s.zip", run.at.Format("2006-01-02"))
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	run.zw = zip.NewWriter(newDeadlineWriter(w))

	switch format {
	case formatDiary:
		err = run.diary(ctx)
	case formatMarkdown:
		err = run.markdown(ctx)
	case formatDayOne:
		err = run.dayone(ctx)
	}
	if err == nil {
		err = run.zw.Close()
	}
	logger := httpapi.Logger(ctx)
	if err != nil {
		if ctx.Err() != nil {
			logger.Info("export canceled by client", "format", format)
		} else {
			logger.Error("export failed after the answer began", "format", format, "error", err.Error())
		}
		panic(http.ErrAbortHandler)
	}
	logger.Info("export done", "format", format)
}

// deadlineWriter moves the connection's write deadline forward by httpapi.WriteTimeout
// before each write, so a long download is bounded per chunk rather than as a whole
// (see httpapi.WriteTimeout); a writer that cannot set deadlines is written to as it is.
type deadlineWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newDeadlineWriter(w http.ResponseWriter) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w)}
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(httpapi.WriteTimeout))
	return d.w.Write(b)
}

// open decrypts a uce entry's title and content; a pending one's from its intake box.
func (x *exportRun) open(ctx context.Context, e entryRow) (*string, string, error) {
	if e.IntakeBox != nil {
		if x.priv == nil {
			priv, err := x.s.privateKey(ctx, x.tx, x.userID, x.key)
			if err != nil {
				return nil, "", err
			}
			x.priv = priv
		}
		b, err := intake.Open(x.priv, e.ID, e.IntakeBox)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %s", errUnreadableEntry, e.ID)
		}
		return b.Title, b.Content, nil
	}
	title, content, err := entrybody.Open(x.key, x.userID, e.ID, e.BodyVersion, entrybody.Sealed{Title: e.TitleCT, Content: e.ContentCT})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s", errUnreadableEntry, e.ID)
	}
	return title, content, nil
}

// filename opens a media's filename: sealed under the master key for uce, the client's
// own string for e2e.
func (x *exportRun) filename(m mediarow.Row) (string, error) {
	if x.tier != tierUCE {
		return string(m.FilenameCT), nil
	}
	name, err := crypto.Open(x.key, m.FilenameCT, crypto.AD{Owner: x.userID, Record: m.ID, Purpose: "media.filename"})
	if err != nil {
		return "", fmt.Errorf("archive: open filename of media %s: %w", m.ID, err)
	}
	return string(name), nil
}

// copyObject streams a media's object into w, checking that the store gave the size the
// row records.
func (x *exportRun) copyObject(ctx context.Context, m mediarow.Row, w io.Writer) error {
	body, _, ok, err := x.s.objects.Get(ctx, m.ObjectKey)
	if err != nil {
		return fmt.Errorf("archive: media %s: %w", m.ID, err)
	}
	if !ok {
		return fmt.Errorf("archive: media %s: the object is missing", m.ID)
	}
	defer body.Close()
	n, err := io.Copy(w, body)
	if err != nil {
		return fmt.Errorf("archive: media %s: copy: %w", m.ID, err)
	}
	if n != m.SizeBytes {
		return fmt.Errorf("archive: media %s: the object holds %d bytes, the row says %d", m.ID, n, m.SizeBytes)
	}
	return nil
}

// eachMedia calls fn with every batch of the user's ready media, oldest first.
func (x *exportRun) eachMedia(ctx context.Context, fn func([]mediarow.Row) error) error {
	var after *mediarow.After
	for {
		batch, err := mediarow.ListReady(ctx, x.tx, x.userID, after, entryBatchSize)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < entryBatchSize {
			return nil
		}
		last := batch[len(batch)-1]
		after = &mediarow.After{CreatedAt: last.CreatedAt, ID: last.ID}
	}
}

// createStored adds a file whose bytes are stored as they are (media: already compressed).
func (x *exportRun) createStored(name string) (io.Writer, error) {
	return x.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: x.at})
}

// createDeflated adds a file that is compressed (JSON, Markdown).
func (x *exportRun) createDeflated(name string) (io.Writer, error) {
	return x.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: x.at})
}

// jsonArrayWriter writes a JSON array element by element.
type jsonArrayWriter struct {
	w     io.Writer
	count int
}

func (a *jsonArrayWriter) add(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("archive: encode: %w", err)
	}
	sep := ",\n"
	if a.count == 0 {
		sep = "\n"
	}
	a.count++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err = a.w.Write(raw)
	return err
}

func hexSum(b []byte) string { return hex.EncodeToString(b) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
