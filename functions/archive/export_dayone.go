package archive

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/xmojo/diary/shared/exportformat"
	"github.com/xmojo/diary/shared/mediarow"
)

// dayone writes a zip Day One imports: photos/<md5>.<type> for every image attached to a
// live entry (Day One names photos by the MD5 of their bytes, so each is read twice from
// S3: once to hash, once to copy; nothing is held in memory), then Journal.json with the
// entries, each photo embedded in the text as ![](dayone-moment://<identifier>). Audio,
// video and PDF media have no place in Day One's photos and are left out; the diary format
// holds them.
func (x *exportRun) dayone(ctx context.Context) error {
	sums := map[string]string{}  // media id -> md5 hex
	written := map[string]bool{} // photo file names
	err := x.eachDayOneBatch(ctx, func(batch []entryRow, photos map[string][]mediarow.Row) error {
		for _, e := range batch {
			for _, m := range photos[e.ID] {
				h := md5.New()
				if err := x.copyObject(ctx, m, h); err != nil {
					return err
				}
				sum := hex.EncodeToString(h.Sum(nil))
				sums[m.ID] = sum
				name := exportformat.DayOnePhotoDir + sum + "." + exportformat.DayOneTypeOf(m.ContentType)
				if written[name] {
					continue
				}
				w, err := x.createStored(name)
				if err != nil {
					return err
				}
				if err := x.copyObject(ctx, m, w); err != nil {
					return err
				}
				written[name] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	w, err := x.createDeflated(exportformat.DayOneJournal)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, `{"metadata": {"version": "1.0"}, "entries": [`); err != nil {
		return err
	}
	arr := &jsonArrayWriter{w: w}
	err = x.eachDayOneBatch(ctx, func(batch []entryRow, photos map[string][]mediarow.Row) error {
		for _, e := range batch {
			out, err := x.dayoneEntry(ctx, e, photos[e.ID], sums)
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
	_, err = io.WriteString(w, "\n]}\n")
	return err
}

// eachDayOneBatch calls fn with each batch of live entries and their photos (the images
// attached to them), by entry id.
func (x *exportRun) eachDayOneBatch(ctx context.Context, fn func([]entryRow, map[string][]mediarow.Row) error) error {
	return eachEntry(ctx, x.tx, x.userID, false, func(batch []entryRow) error {
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		media, err := mediarow.OfEntries(ctx, x.tx, x.userID, ids)
		if err != nil {
			return err
		}
		photos := map[string][]mediarow.Row{}
		for _, m := range media {
			if exportformat.DayOneTypeOf(m.ContentType) != "" {
				photos[*m.EntryID] = append(photos[*m.EntryID], m)
			}
		}
		return fn(batch, photos)
	})
}

// dayoneID is an id as Day One writes its own: 32 upper-case hex digits.
func dayoneID(id string) string {
	return strings.ToUpper(strings.ReplaceAll(id, "-", ""))
}

func (x *exportRun) dayoneEntry(ctx context.Context, e entryRow, photos []mediarow.Row, sums map[string]string) (exportformat.DayOneEntry, error) {
	title, content, err := x.open(ctx, e)
	if err != nil {
		return exportformat.DayOneEntry{}, err
	}
	var text strings.Builder
	if title != nil && *title != "" {
		fmt.Fprintf(&text, "# %s\n\n", strings.ReplaceAll(*title, "\n", " "))
	}
	text.WriteString(content)
	out := exportformat.DayOneEntry{
		UUID:         dayoneID(e.ID),
		CreationDate: e.OccurredAt.UTC().Format(exportformat.DayOneDate),
		ModifiedDate: e.UpdatedAt.UTC().Format(exportformat.DayOneDate),
		// The diary keeps instants in UTC and no zone of the writer's.
		TimeZone: "Etc/UTC",
		Tags:     e.Tags,
	}
	for i, m := range photos {
		name, err := x.filename(m)
		if err != nil {
			return exportformat.DayOneEntry{}, err
		}
		ident := dayoneID(m.ID)
		fmt.Fprintf(&text, "\n\n![](%s%s)", exportformat.DayOneMomentPrefix, ident)
		out.Photos = append(out.Photos, exportformat.DayOnePhoto{
			Identifier: ident, MD5: sums[m.ID], Type: exportformat.DayOneTypeOf(m.ContentType),
			OrderInEntry: i, Filename: name, Date: m.CreatedAt.UTC().Format(exportformat.DayOneDate),
		})
	}
	out.Text = text.String()
	return out, nil
}
