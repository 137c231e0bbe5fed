package importer

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Day One's timeZone names, for dates written without an offset

	"github.com/xmojo/diary/shared/exportformat"
)

// dayoneSource reads a Day One export: one journal per .json file at the top of the zip
// (Day One names it after the journal, "Journal.json" by default), photos under photos/
// named <md5>.<type>. Day One's fields the diary has no place for (location, weather,
// starred, audio, video and PDF attachments) are read past.
type dayoneSource struct {
	a        *archive
	journals []string
	// photos are the photo files by MD5, whatever their extension.
	photos map[string]string
}

var (
	dayoneIDPattern = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)
	md5Pattern      = regexp.MustCompile(`^[0-9a-f]{32}$`)
	escapedPunct    = regexp.MustCompile("\\\\([!-/:-@\\[-`{-~])")
)

func openDayOne(a *archive) (*dayoneSource, error) {
	d := &dayoneSource{a: a, photos: map[string]string{}}
	for _, name := range a.names {
		switch {
		case !strings.Contains(name, "/") && strings.HasSuffix(strings.ToLower(name), ".json"):
			d.journals = append(d.journals, name)
		case strings.HasPrefix(name, exportformat.DayOnePhotoDir) && !strings.HasSuffix(name, "/"):
			base := strings.TrimPrefix(name, exportformat.DayOnePhotoDir)
			if sum, _, ok := strings.Cut(base, "."); ok && md5Pattern.MatchString(strings.ToLower(sum)) {
				d.photos[strings.ToLower(sum)] = name
			}
		}
	}
	if len(d.journals) == 0 {
		return nil, badInput("the zip holds no Day One journal (a .json file at its top, such as %s)", exportformat.DayOneJournal)
	}
	sort.Strings(d.journals)
	return d, nil
}

func (d *dayoneSource) name() string { return formatDayOne }

func (d *dayoneSource) loose() []mediaRef { return nil }

func (d *dayoneSource) count() (int, error) {
	n := 0
	err := d.stream(func(_ string, dec *json.Decoder, _ int) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

func (d *dayoneSource) each(fn func(item) error) error {
	return d.stream(func(journal string, dec *json.Decoder, i int) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		return fn(d.item(journal, raw, i))
	})
}

func (d *dayoneSource) stream(h func(journal string, dec *json.Decoder, i int) error) error {
	for _, j := range d.journals {
		rc, _, err := d.a.open(j)
		if err != nil {
			return err
		}
		err = streamArrays(j, rc, map[string]func(*json.Decoder, int) error{
			"entries": func(dec *json.Decoder, i int) error { return h(j, dec, i) },
		})
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// item turns a Day One entry into an item: its first line, when a Markdown heading, is
// the title (Day One has no title of its own and writes one that way), the rest the
// content as written; photos become media of the entry.
func (d *dayoneSource) item(journal string, raw json.RawMessage, i int) item {
	it := item{label: fmt.Sprintf("%s entries[%d]", journal, i), sourceID: fmt.Sprint(journal, "#", i), source: "dayone"}
	var e exportformat.DayOneEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		it.invalid = "not imported: the entry is not of the expected shape"
		return it
	}
	if !dayoneIDPattern.MatchString(e.UUID) {
		it.invalid = "not imported: the entry has no uuid Day One would write"
		return it
	}
	it.sourceID = strings.ToUpper(e.UUID)
	it.label = fmt.Sprintf("%s entries[%d] (uuid %s)", journal, i, it.sourceID)
	at, err := dayoneTime(e.CreationDate, e.TimeZone)
	if err != nil {
		it.invalid = "not imported: " + err.Error()
		return it
	}
	it.occurredAt = at
	it.tags = e.Tags
	it.title, it.content = splitTitle(e.Text)
	photos := append([]exportformat.DayOnePhoto(nil), e.Photos...)
	sort.SliceStable(photos, func(a, b int) bool { return photos[a].OrderInEntry < photos[b].OrderInEntry })
	for k, p := range photos {
		ref := mediaRef{label: fmt.Sprintf("%s entries[%d].photos[%d]", journal, i, k), size: -1}
		sum := strings.ToLower(p.MD5)
		ref.sourceID = strings.ToUpper(p.Identifier)
		if !dayoneIDPattern.MatchString(ref.sourceID) {
			ref.sourceID = sum
		}
		ref.contentType = exportformat.DayOneTypes[strings.ToLower(p.Type)]
		ref.filename = p.Filename
		if ref.filename == "" {
			ref.filename = sum + "." + strings.ToLower(p.Type)
		}
		file, ok := d.photos[sum]
		switch {
		case !md5Pattern.MatchString(sum):
			ref.invalid = "not imported: the photo's md5 is not 32 hex digits"
		case ref.contentType == "":
			ref.invalid = "not imported: Day One photos of this type are not kept"
		case !ok:
			ref.invalid = "not imported: " + exportformat.DayOnePhotoDir + sum + "." + p.Type + " is not in the zip"
		}
		ref.file, ref.md5 = file, sum
		if ref.sourceID == "" {
			ref.sourceID = fmt.Sprint(it.sourceID, "#", k)
		}
		it.media = append(it.media, ref)
	}
	return it
}

// dayoneTime reads a Day One date: RFC 3339 (Day One writes UTC, "2021-03-03T11:48:50Z");
// one written without an offset is read in the entry's timeZone.
func dayoneTime(date, zone string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, date); err == nil {
		return t.UTC(), nil
	}
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("the entry's timeZone is not a time zone")
		}
		loc = l
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("the entry's creationDate is not a date")
	}
	return t.UTC(), nil
}

// splitTitle takes a first line "# Title" as the title (its Markdown escapes undone) and
// the rest, without the blank lines after the heading, as the content.
func splitTitle(text string) (*string, string) {
	first, rest, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, "# ") {
		return nil, text
	}
	title := strings.TrimSpace(escapedPunct.ReplaceAllString(strings.TrimPrefix(first, "# "), "$1"))
	if title == "" {
		return nil, text
	}
	return &title, strings.TrimLeft(rest, "\n")
}
