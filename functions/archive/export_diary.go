package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/xmojo/diary/shared/exportformat"
	"github.com/xmojo/diary/shared/mediarow"
)

// diary writes the lossless diary format: entries.json (live entries, then deleted ones),
// media/manifest.json, media/<id> for each ready media, and manifest.json last, with the
// counts. An e2e account's entries are their ciphertext as stored; its media bytes and
// filenames as the client uploaded them.
func (x *exportRun) diary(ctx context.Context) error {
	counts := exportformat.Counts{}
	w, err := x.createDeflated(exportformat.DiaryEntries)
	if err != nil {
		return err
	}
	for _, part := range []struct {
		key     string
		deleted bool
		count   *int
	}{{"entries", false, &counts.Entries}, {"deleted", true, &counts.DeletedEntries}} {
		sep := `{"`
		if part.deleted {
			sep = "\n],\n\""
		}
		if _, err := io.WriteString(w, sep+part.key+`": [`); err != nil {
			return err
		}
		arr := &jsonArrayWriter{w: w}
		err := eachEntry(ctx, x.tx, x.userID, part.deleted, func(batch []entryRow) error {
			for _, e := range batch {
				out, err := x.diaryEntry(ctx, e)
				if err != nil {
					return err
				}
				if err := arr.add(out); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		*part.count = arr.count
	}
	if _, err := io.WriteString(w, "\n]}\n"); err != nil {
		return err
	}

	// The media manifest, then the bytes: two passes in the same snapshot.
	if w, err = x.createDeflated(exportformat.DiaryMediaManifest); err != nil {
		return err
	}
	if _, err := io.WriteString(w, `{"media": [`); err != nil {
		return err
	}
	arr := &jsonArrayWriter{w: w}
	err = x.eachMedia(ctx, func(batch []mediarow.Row) error {
		for _, m := range batch {
			name, err := x.filename(m)
			if err != nil {
				return err
			}
			if err := arr.add(exportformat.Media{
				ID: m.ID, File: exportformat.DiaryMediaDir + m.ID, Filename: name, ContentType: m.ContentType,
				SizeBytes: m.SizeBytes, SHA256: hexSum(m.SHA256), EntryID: m.EntryID, CreatedAt: m.CreatedAt.UTC(),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	counts.Media = arr.count
	if _, err := io.WriteString(w, "\n]}\n"); err != nil {
		return err
	}
	err = x.eachMedia(ctx, func(batch []mediarow.Row) error {
		for _, m := range batch {
			w, err := x.createStored(exportformat.DiaryMediaDir + m.ID)
			if err != nil {
				return err
			}
			if err := x.copyObject(ctx, m, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	if w, err = x.createDeflated(exportformat.DiaryManifest); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(exportformat.Manifest{
		Format: exportformat.DiaryFormat, FormatVersion: exportformat.DiaryVersion,
		Tier: x.tier, ExportedAt: x.at, Counts: counts,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("archive: encode manifest: %w", err)
	}
	_, err = w.Write(append(raw, '\n'))
	return err
}

// diaryEntry is an entry as entries.json holds it.
func (x *exportRun) diaryEntry(ctx context.Context, e entryRow) (exportformat.Entry, error) {
	out := exportformat.Entry{
		ID: e.ID, Mood: e.Mood, Tags: e.Tags, Source: e.Source,
		OccurredAt: e.OccurredAt.UTC(), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
		Version: e.Version,
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if e.DeletedAt != nil {
		d := e.DeletedAt.UTC()
		out.DeletedAt = &d
	}
	if x.tier != tierUCE {
		ct := b64(e.Ciphertext)
		out.Ciphertext, out.CiphertextFormat = &ct, e.CiphertextFormat
		return out, nil
	}
	title, content, err := x.open(ctx, e)
	if err != nil {
		return exportformat.Entry{}, err
	}
	out.Title, out.Content = title, &content
	return out, nil
}
