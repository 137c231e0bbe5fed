// Package exportformat provides the layouts of the zips a user takes out of the diary and
// brings into it: the project's own lossless diary format, written by the archive's export
// and read by the importer, and Day One's journal export (Journal.json and photos/), which
// the export writes for uce users and the importer reads. One set of types, so the writer
// and the reader cannot drift apart.
package exportformat

import "time"

// The files of a diary zip.
const (
	// DiaryManifest is the zip's manifest.json: format, version, tier, counts, time.
	DiaryManifest = "manifest.json"
	// DiaryEntries is entries.json: {"entries": [...], "deleted": [...]}.
	DiaryEntries = "entries.json"
	// DiaryMediaManifest lists the media whose bytes are under DiaryMediaDir.
	DiaryMediaManifest = "media/manifest.json"
	// DiaryMediaDir holds each media's bytes, named by the media id.
	DiaryMediaDir = "media/"
)

// DiaryFormat is the manifest's format name, and DiaryVersion the layout's version.
const (
	DiaryFormat  = "diary"
	DiaryVersion = 1
)

// Manifest is manifest.json of a diary zip.
type Manifest struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// Tier is the account's tier: "uce" (entries in the clear: title and content) or
	// "e2e" (each entry's ciphertext as the client stored it).
	Tier       string    `json:"tier"`
	ExportedAt time.Time `json:"exported_at"`
	Counts     Counts    `json:"counts"`
}

// Counts are what a diary zip holds.
type Counts struct {
	Entries        int `json:"entries"`
	DeletedEntries int `json:"deleted_entries"`
	Media          int `json:"media"`
}

// Entry is one entry of entries.json. A uce export has Title and Content; an e2e export
// has Ciphertext (standard base64 of the stored envelope) and CiphertextFormat instead.
type Entry struct {
	ID         string  `json:"id"`
	Title      *string `json:"title,omitempty"`
	Content    *string `json:"content,omitempty"`
	Ciphertext *string `json:"ciphertext,omitempty"`
	// CiphertextFormat is "intake/v1" for an e2e entry that arrived as an intake box (the
	// client opens it with its private key), absent for the client's own envelope.
	CiphertextFormat *string    `json:"ciphertext_format,omitempty"`
	Mood             *string    `json:"mood"`
	Tags             []string   `json:"tags"`
	Source           string     `json:"source"`
	OccurredAt       time.Time  `json:"occurred_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DeletedAt        *time.Time `json:"deleted_at,omitempty"`
	Version          int        `json:"version"`
}

// Entries is the whole of entries.json (the export writes it as a stream).
type Entries struct {
	Entries []Entry `json:"entries"`
	Deleted []Entry `json:"deleted"`
}

// Media is one row of media/manifest.json; its bytes are the zip's File.
type Media struct {
	ID          string    `json:"id"`
	File        string    `json:"file"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"`
	EntryID     *string   `json:"entry_id"`
	CreatedAt   time.Time `json:"created_at"`
}

// MediaManifest is the whole of media/manifest.json.
type MediaManifest struct {
	Media []Media `json:"media"`
}

// The files of a Day One zip.
const (
	// DayOneJournal is the journal; Day One names it after the journal ("Journal.json").
	DayOneJournal = "Journal.json"
	// DayOnePhotoDir holds the photos, each named <md5>.<type>.
	DayOnePhotoDir = "photos/"
	// DayOneMomentPrefix is how an entry's text embeds a photo:
	// ![](dayone-moment://<identifier>).
	DayOneMomentPrefix = "dayone-moment://"
)

// DayOneExport is Journal.json as Day One exports it: {"metadata": {"version": "1.0"},
// "entries": [...]}. Day One writes many more fields (location, weather, richText, ...);
// these are the ones the diary writes and reads.
type DayOneExport struct {
	Metadata DayOneMetadata `json:"metadata"`
	Entries  []DayOneEntry  `json:"entries"`
}

// DayOneMetadata is Journal.json's metadata.
type DayOneMetadata struct {
	Version string `json:"version"`
}

// DayOneEntry is one entry of Journal.json. UUID is 32 upper-case hex digits; the dates
// are RFC 3339 in UTC ("2021-03-03T11:48:50Z"), TimeZone an IANA zone name; Text is
// Markdown (a title as its first line "# ..."), photos embedded as dayone-moment links.
type DayOneEntry struct {
	UUID         string        `json:"uuid"`
	CreationDate string        `json:"creationDate"`
	ModifiedDate string        `json:"modifiedDate,omitempty"`
	TimeZone     string        `json:"timeZone,omitempty"`
	Text         string        `json:"text"`
	Tags         []string      `json:"tags,omitempty"`
	Starred      bool          `json:"starred"`
	Photos       []DayOnePhoto `json:"photos,omitempty"`
}

// DayOnePhoto is one photo of an entry: its file is photos/<MD5>.<Type>, its Identifier
// (32 upper-case hex digits) what the text's dayone-moment link names.
type DayOnePhoto struct {
	Identifier   string `json:"identifier"`
	MD5          string `json:"md5"`
	Type         string `json:"type"`
	OrderInEntry int    `json:"orderInEntry"`
	Filename     string `json:"filename,omitempty"`
	Date         string `json:"date,omitempty"`
}

// DayOneTypes maps the photo types Day One writes to media content types, and back.
var DayOneTypes = map[string]string{
	"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "gif": "image/gif",
	"heic": "image/heic", "webp": "image/webp",
}

// DayOneTypeOf returns the Day One photo type of a content type, or "" when Day One takes
// no photo of it.
func DayOneTypeOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return "jpeg"
	case "image/png":
		return "png"
	case "image/gif":
		return "gif"
	case "image/heic", "image/heif":
		return "heic"
	case "image/webp":
		return "webp"
	}
	return ""
}

// DayOneDate is the layout of Day One's dates.
const DayOneDate = "2006-01-02T15:04:05Z"
