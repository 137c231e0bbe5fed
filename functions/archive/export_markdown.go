package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/xmojo/diary/shared/mediarow"
)

// frontMatter is the YAML front matter of a Markdown entry.
type frontMatter struct {
	Title  *string   `yaml:"title,omitempty"`
	Date   time.Time `yaml:"date"`
	Mood   *string   `yaml:"mood,omitempty"`
	Tags   []string  `yaml:"tags"`
	Source string    `yaml:"source"`
	ID     string    `yaml:"id"`
}

// markdown writes one .md file per live entry, in a folder per year of occurred_at
// (2024/2024-03-05-<entry id>.md): YAML front matter (title, date, mood, tags, source, id),
// then the content as written, then a link to each of the entry's media, whose bytes lie
// alongside (2024/media/<media id>.<ext>). Media attached to no live entry go to media/.
func (x *exportRun) markdown(ctx context.Context) error {
	written := map[string]bool{}
	err := eachEntry(ctx, x.tx, x.userID, false, func(batch []entryRow) error {
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.ID
		}
		media, err := mediarow.OfEntries(ctx, x.tx, x.userID, ids)
		if err != nil {
			return err
		}
		byEntry := map[string][]mediarow.Row{}
		for _, m := range media {
			byEntry[*m.EntryID] = append(byEntry[*m.EntryID], m)
		}
		for _, e := range batch {
			if err := x.markdownEntry(ctx, e, byEntry[e.ID], written); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return x.eachMedia(ctx, func(batch []mediarow.Row) error {
		for _, m := range batch {
			if written[m.ID] {
				continue
			}
			w, err := x.createStored("media/" + mediaFileName(m))
			if err != nil {
				return err
			}
			if err := x.copyObject(ctx, m, w); err != nil {
				return err
			}
		}
		return nil
	})
}

func (x *exportRun) markdownEntry(ctx context.Context, e entryRow, media []mediarow.Row, written map[string]bool) error {
	title, content, err := x.open(ctx, e)
	if err != nil {
		return err
	}
	fm := frontMatter{Title: title, Date: e.OccurredAt.UTC(), Mood: e.Mood, Tags: e.Tags, Source: e.Source, ID: e.ID}
	if fm.Tags == nil {
		fm.Tags = []string{}
	}
	var buf bytes.Buffer
	buf.WriteString("---\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(fm); err != nil {
		return fmt.Errorf("archive: front matter of %s: %w", e.ID, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("archive: front matter of %s: %w", e.ID, err)
	}
	buf.WriteString("---\n\n")
	year := e.OccurredAt.UTC().Format("2006")
	w, err := x.createDeflated(year + "/" + e.OccurredAt.UTC().Format("2006-01-02") + "-" + e.ID + ".md")
	if err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	if _, err := io.WriteString(w, content); err != nil {
		return err
	}
	var links strings.Builder
	for _, m := range media {
		name, err := x.filename(m)
		if err != nil {
			return err
		}
		if links.Len() == 0 {
			links.WriteString("\n")
		}
		fmt.Fprintf(&links, "\n![%s](media/%s)\n", markdownText(name), mediaFileName(m))
	}
	if _, err := io.WriteString(w, links.String()); err != nil {
		return err
	}
	for _, m := range media {
		if written[m.ID] {
			continue
		}
		w, err := x.createStored(year + "/media/" + mediaFileName(m))
		if err != nil {
			return err
		}
		if err := x.copyObject(ctx, m, w); err != nil {
			return err
		}
		written[m.ID] = true
	}
	return nil
}

// mediaFileName names a media's file in the Markdown and Day One zips: its id and the
// extension of its type, never the user's filename (which may hold any character).
func mediaFileName(m mediarow.Row) string {
	return m.ID + extensionOf(m.ContentType)
}

func extensionOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/heic":
		return ".heic"
	case "image/heif":
		return ".heif"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4", "audio/x-m4a", "audio/aac":
		return ".m4a"
	case "audio/ogg":
		return ".ogg"
	case "audio/wav":
		return ".wav"
	case "audio/webm", "video/webm":
		return ".webm"
	case "video/mp4":
		return ".mp4"
	case "video/quicktime":
		return ".mov"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

// markdownText escapes what would end a link's text early.
func markdownText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, "\n", " ", "\r", " ")
	return r.Replace(s)
}
