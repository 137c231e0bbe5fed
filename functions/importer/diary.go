package importer

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/exportformat"
)

// Bounds of the diary format's manifests, read whole.
const (
	maxManifestBytes      = 1 << 20
	maxMediaManifestBytes = 256 << 20
)

// diarySource reads the project's own export (exportformat): manifest.json says what it
// is, media/manifest.json which media belong to which entry, and entries.json is streamed.
// Entries under "deleted" are not imported: they were in the trash, which an import does
// not fill.
type diarySource struct {
	a       *archive
	tier    string
	byEntry map[string][]mediaRef
	unbound []mediaRef
}

// openDiary checks the manifest (format, version, and a tier that matches the account's:
// an e2e account's ciphertext means nothing to a uce account, and a uce export's text
// would have to be sealed for an e2e account by the server) and reads the media manifest.
func openDiary(a *archive, tier string) (*diarySource, error) {
	var m exportformat.Manifest
	if err := readSmallJSON(a, exportformat.DiaryManifest, maxManifestBytes, &m); err != nil {
		if errors.Is(err, errMissingFile) {
			return nil, badInput("the zip has no %s: it is not a diary export", exportformat.DiaryManifest)
		}
		return nil, err
	}
	switch {
	case m.Format != exportformat.DiaryFormat:
		return nil, badInput("%s does not describe a diary export", exportformat.DiaryManifest)
	case m.FormatVersion != exportformat.DiaryVersion:
		return nil, badInput("the export's format version %d is not one this server reads (%d)", m.FormatVersion, exportformat.DiaryVersion)
	case m.Tier != tier:
		return nil, badInput("this export is from a %s account; it can be imported only into a %s account", m.Tier, m.Tier)
	}
	if _, ok := a.files[exportformat.DiaryEntries]; !ok {
		return nil, badInput("the zip has no %s", exportformat.DiaryEntries)
	}
	d := &diarySource{a: a, tier: tier, byEntry: map[string][]mediaRef{}}
	var mm struct {
		Media []json.RawMessage `json:"media"`
	}
	err := readSmallJSON(a, exportformat.DiaryMediaManifest, maxMediaManifestBytes, &mm)
	if errors.Is(err, errMissingFile) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	for i, raw := range mm.Media {
		ref := mediaRef{label: fmt.Sprintf("%s media[%d]", exportformat.DiaryMediaManifest, i), size: -1}
		var m exportformat.Media
		if err := json.Unmarshal(raw, &m); err != nil {
			ref.invalid = "not imported: its description is not of the expected shape"
			d.unbound = append(d.unbound, ref)
			continue
		}
		ref.sourceID, ref.file, ref.filename, ref.contentType, ref.size = m.ID, m.File, m.Filename, m.ContentType, m.SizeBytes
		sum, err := hex.DecodeString(m.SHA256)
		switch {
		case !isUUID(m.ID):
			ref.invalid, ref.sourceID = "not imported: its id is not a UUID", fmt.Sprint("index-", i)
		case m.File != exportformat.DiaryMediaDir+m.ID:
			ref.invalid = "not imported: its file is not " + exportformat.DiaryMediaDir + "<its id>"
		case err != nil || len(sum) != 32:
			ref.invalid = "not imported: its sha256 is not 64 hex digits"
		case m.SizeBytes < 1:
			ref.invalid = "not imported: its size is not positive"
		default:
			ref.label = fmt.Sprintf("%s media[%d] (id %s)", exportformat.DiaryMediaManifest, i, m.ID)
			ref.sha256 = sum
		}
		if m.EntryID != nil && ref.invalid == "" {
			d.byEntry[*m.EntryID] = append(d.byEntry[*m.EntryID], ref)
		} else {
			d.unbound = append(d.unbound, ref)
		}
	}
	return d, nil
}

func (d *diarySource) name() string { return formatDiary }

func (d *diarySource) loose() []mediaRef { return d.unbound }

func (d *diarySource) count() (int, error) {
	n := 0
	err := d.stream(func(dec *json.Decoder, _ int) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

func (d *diarySource) each(fn func(item) error) error {
	return d.stream(func(dec *json.Decoder, i int) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		return fn(d.item(raw, i))
	})
}

// stream calls h with each live entry of entries.json; the deleted ones are read past.
func (d *diarySource) stream(h func(dec *json.Decoder, i int) error) error {
	rc, _, err := d.a.open(exportformat.DiaryEntries)
	if err != nil {
		return err
	}
	defer rc.Close()
	return streamArrays(exportformat.DiaryEntries, rc, map[string]func(*json.Decoder, int) error{
		"entries": h,
		"deleted": func(dec *json.Decoder, _ int) error { return skipValue(dec) },
	})
}

// item turns an exported entry into an item; what is wrong with it makes it invalid.
func (d *diarySource) item(raw json.RawMessage, i int) item {
	it := item{label: fmt.Sprintf("%s entries[%d]", exportformat.DiaryEntries, i), sourceID: fmt.Sprint("index-", i)}
	var e exportformat.Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		it.invalid = "not imported: the entry is not of the expected shape"
		return it
	}
	if !isUUID(e.ID) {
		it.invalid = "not imported: the entry's id is not a UUID"
		return it
	}
	it.sourceID = e.ID
	it.label = fmt.Sprintf("%s entries[%d] (id %s)", exportformat.DiaryEntries, i, e.ID)
	it.mood, it.tags, it.occurredAt = e.Mood, e.Tags, e.OccurredAt
	// "app" is the mark of what the user writes in the app; an imported entry says where
	// it came from instead, unless it came from elsewhere in the first place.
	it.source = e.Source
	if it.source == entryfields.DefaultSource || !entryfields.ValidSource(it.source) {
		it.source = "import"
	}
	if e.OccurredAt.IsZero() {
		it.invalid = "not imported: the entry has no occurred_at"
		return it
	}
	if d.tier == "e2e" {
		if e.Ciphertext == nil || e.Content != nil || e.Title != nil {
			it.invalid = "not imported: an e2e export's entry holds its ciphertext alone"
			return it
		}
		ct, err := base64.StdEncoding.Strict().DecodeString(*e.Ciphertext)
		if err != nil {
			it.invalid = "not imported: the entry's ciphertext is not standard base64"
			return it
		}
		it.ciphertext, it.ciphertextFormat = ct, e.CiphertextFormat
	} else {
		if e.Content == nil || e.Ciphertext != nil {
			it.invalid = "not imported: a uce export's entry holds its content"
			return it
		}
		it.title, it.content = e.Title, *e.Content
	}
	it.media = d.byEntry[e.ID]
	return it
}
