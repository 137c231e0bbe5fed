package archive

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	yaml "go.yaml.in/yaml/v3"

	"github.com/xmojo/diary/shared/exportformat"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

var day = time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)

func TestExportDiaryUCE(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "uce")
	first := f.seedEntry(t, u, seed{title: ptr("First"), content: "hello *world*", mood: ptr("happy"), tags: []string{"a", "b"}, occurredAt: day})
	second := f.seedEntry(t, u, seed{content: "no title", occurredAt: day.Add(48 * time.Hour)})
	gone := f.seedEntry(t, u, seed{title: ptr("Gone"), content: "deleted text", occurredAt: day.Add(-time.Hour), deleted: true})
	photo := randomBytes(t, 3000)
	pdf := randomBytes(t, 500)
	photoID := f.seedMedia(t, u, first, "beach.jpg", "image/jpeg", photo)
	pdfID := f.seedMedia(t, u, "", "receipt.pdf", "application/pdf", pdf)
	other := testenv.NewUser(t, f.svc, "uce")
	f.seedEntry(t, other, seed{content: "someone else's", occurredAt: day})

	files, names, h := f.exportZip(t, u, "diary")
	if ct := h.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("Content-Type = %q, want application/zip", ct)
	}
	wantName := `attachment; filename="diary-export-` + time.Now().UTC().Format("2006-01-02") + `.zip"`
	if cd := h.Get("Content-Disposition"); cd != wantName {
		t.Errorf("Content-Disposition = %q, want %q", cd, wantName)
	}
	if names[len(names)-1] != exportformat.DiaryManifest {
		t.Errorf("files = %v, want manifest.json last (it holds the counts)", names)
	}

	var manifest exportformat.Manifest
	mustJSON(t, files[exportformat.DiaryManifest], &manifest)
	if manifest.Format != "diary" || manifest.FormatVersion != 1 || manifest.Tier != "uce" ||
		manifest.Counts != (exportformat.Counts{Entries: 2, DeletedEntries: 1, Media: 2}) || time.Since(manifest.ExportedAt) > time.Minute {
		t.Errorf("manifest = %+v", manifest)
	}
	var entries exportformat.Entries
	mustJSON(t, files[exportformat.DiaryEntries], &entries)
	if len(entries.Entries) != 2 || len(entries.Deleted) != 1 {
		t.Fatalf("entries.json holds %d live and %d deleted, want 2 and 1", len(entries.Entries), len(entries.Deleted))
	}
	e := entries.Entries[0]
	if e.ID != first || *e.Title != "First" || *e.Content != "hello *world*" || *e.Mood != "happy" ||
		!slices.Equal(e.Tags, []string{"a", "b"}) || !e.OccurredAt.Equal(day) || e.Version != 1 || e.Source != "app" || e.Ciphertext != nil {
		t.Errorf("first entry = %+v", e)
	}
	if e := entries.Entries[1]; e.ID != second || e.Title != nil || *e.Content != "no title" || e.Tags == nil {
		t.Errorf("second entry = %+v", e)
	}
	if d := entries.Deleted[0]; d.ID != gone || *d.Content != "deleted text" || d.DeletedAt == nil {
		t.Errorf("deleted entry = %+v", d)
	}
	var media exportformat.MediaManifest
	mustJSON(t, files[exportformat.DiaryMediaManifest], &media)
	if len(media.Media) != 2 {
		t.Fatalf("media manifest = %+v, want 2 media", media)
	}
	for _, m := range media.Media {
		want := map[string]struct {
			name, ct string
			data     []byte
			entry    *string
		}{photoID: {"beach.jpg", "image/jpeg", photo, &first}, pdfID: {"receipt.pdf", "application/pdf", pdf, nil}}[m.ID]
		if m.Filename != want.name || m.ContentType != want.ct || m.SizeBytes != int64(len(want.data)) ||
			m.SHA256 != hexSHA256(want.data) || m.File != "media/"+m.ID || (m.EntryID == nil) != (want.entry == nil) {
			t.Errorf("media %s = %+v", m.ID, m)
		}
		if !bytes.Equal(files[m.File], want.data) {
			t.Errorf("%s holds %d bytes, not the media's", m.File, len(files[m.File]))
		}
	}
	if bytes.Contains(files[exportformat.DiaryEntries], []byte("someone else")) {
		t.Error("the export holds another user's entry")
	}
}

func mustJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %.200s: %v", raw, err)
	}
}

func TestExportDiaryE2EHoldsTheCiphertextAsStored(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "e2e")
	envelope := randomBytes(t, 200)
	id := f.seedEntry(t, u, seed{ciphertext: envelope, tags: []string{"t"}, occurredAt: day})
	blob := randomBytes(t, 1000)
	f.seedMedia(t, u, id, "client-sealed-name", "image/png", blob)

	files, _, _ := f.exportZip(t, u, "diary")
	var manifest exportformat.Manifest
	mustJSON(t, files[exportformat.DiaryManifest], &manifest)
	var entries exportformat.Entries
	mustJSON(t, files[exportformat.DiaryEntries], &entries)
	if manifest.Tier != "e2e" || len(entries.Entries) != 1 {
		t.Fatalf("manifest %+v, entries %+v", manifest, entries)
	}
	got := entries.Entries[0]
	if got.Ciphertext == nil || *got.Ciphertext != base64.StdEncoding.EncodeToString(envelope) || got.Title != nil || got.Content != nil {
		t.Errorf("e2e entry = %+v, want its ciphertext as stored and no title or content", got)
	}
	var media exportformat.MediaManifest
	mustJSON(t, files[exportformat.DiaryMediaManifest], &media)
	if len(media.Media) != 1 || media.Media[0].Filename != "client-sealed-name" || !bytes.Equal(files[media.Media[0].File], blob) {
		t.Errorf("e2e media = %+v", media)
	}
}

// More entries than one batch: every one is exported once, in order.
func TestExportReadsEveryBatch(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "e2e")
	n := 2*entryBatchSize + 7
	for i := range n {
		f.seedEntry(t, u, seed{ciphertext: []byte{byte(i), byte(i >> 8)}, occurredAt: day.Add(time.Duration(i%50) * time.Minute)})
	}
	files, _, _ := f.exportZip(t, u, "diary")
	var entries exportformat.Entries
	mustJSON(t, files[exportformat.DiaryEntries], &entries)
	seen := map[string]bool{}
	for i, e := range entries.Entries {
		if seen[e.ID] {
			t.Fatalf("entry %s exported twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.OccurredAt.Before(entries.Entries[i-1].OccurredAt) {
			t.Fatalf("entry %d is out of order", i)
		}
	}
	if len(seen) != n {
		t.Errorf("exported %d entries, want %d", len(seen), n)
	}
}

func TestExportMarkdownFrontMatterIsYAML(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "uce")
	// A title that YAML would misread if it were written by hand.
	title := `Dear "diary": #1 - yes: no`
	id := f.seedEntry(t, u, seed{title: &title, content: "---\nnot front matter\n", mood: ptr("calm"), tags: []string{"x y", "z"}, occurredAt: day})
	f.seedEntry(t, u, seed{content: "deleted", occurredAt: day, deleted: true})
	photo := randomBytes(t, 100)
	photoID := f.seedMedia(t, u, id, "p.png", "image/png", photo)
	loose := randomBytes(t, 50)
	looseID := f.seedMedia(t, u, "", "n.pdf", "application/pdf", loose)

	files, _, h := f.exportZip(t, u, "markdown")
	if !strings.Contains(h.Get("Content-Disposition"), "diary-markdown-") {
		t.Errorf("Content-Disposition = %q", h.Get("Content-Disposition"))
	}
	name := "2024/2024-03-05-" + id + ".md"
	md, ok := files[name]
	if !ok {
		t.Fatalf("no %s in %v", name, keys(files))
	}
	if len(mdFiles(files)) != 1 {
		t.Errorf("markdown files = %v, want the one live entry", mdFiles(files))
	}
	text := string(md)
	if !strings.HasPrefix(text, "---\n") {
		t.Fatalf("%s does not start with front matter: %q", name, text)
	}
	fmRaw, body, ok := strings.Cut(text[4:], "\n---\n")
	if !ok {
		t.Fatalf("%s: front matter not closed: %q", name, text)
	}
	var fm map[string]any
	if err := yaml.Unmarshal([]byte(fmRaw), &fm); err != nil {
		t.Fatalf("front matter is not YAML: %v\n%s", err, fmRaw)
	}
	date, _ := fm["date"].(time.Time)
	if fm["title"] != title || !date.Equal(day) || fm["mood"] != "calm" || fm["source"] != "app" || fm["id"] != id ||
		!slices.Equal(anyStrings(fm["tags"]), []string{"x y", "z"}) {
		t.Errorf("front matter = %#v", fm)
	}
	if !strings.HasPrefix(body, "\n---\nnot front matter\n") || !strings.Contains(body, "](media/"+photoID+".png)") {
		t.Errorf("body = %q, want the content as written, then a link to the photo", body)
	}
	if !bytes.Equal(files["2024/media/"+photoID+".png"], photo) || !bytes.Equal(files["media/"+looseID+".pdf"], loose) {
		t.Errorf("media files = %v, want the photo beside its entry and the loose PDF under media/", keys(files))
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mdFiles(m map[string][]byte) []string {
	var out []string
	for _, k := range keys(m) {
		if strings.HasSuffix(k, ".md") {
			out = append(out, k)
		}
	}
	return out
}

func TestExportDayOne(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "uce")
	id := f.seedEntry(t, u, seed{title: ptr("Trip"), content: "We left early.", tags: []string{"travel"}, occurredAt: day})
	plain := f.seedEntry(t, u, seed{content: "just text", occurredAt: day.Add(time.Hour)})
	jpeg := randomBytes(t, 2048)
	same := f.seedEntry(t, u, seed{content: "same photo again", occurredAt: day.Add(2 * time.Hour)})
	photoID := f.seedMedia(t, u, id, "IMG_1.jpg", "image/jpeg", jpeg)
	f.seedMedia(t, u, same, "IMG_1 copy.jpg", "image/jpeg", jpeg)
	f.seedMedia(t, u, id, "memo.m4a", "audio/mp4", randomBytes(t, 64))

	files, _, _ := f.exportZip(t, u, "dayone")
	var journal exportformat.DayOneExport
	mustJSON(t, files[exportformat.DayOneJournal], &journal)
	if journal.Metadata.Version != "1.0" || len(journal.Entries) != 3 {
		t.Fatalf("Journal.json = %+v", journal)
	}
	sum := md5.Sum(jpeg)
	md5hex := hex.EncodeToString(sum[:])
	e := journal.Entries[0]
	ident := strings.ToUpper(strings.ReplaceAll(photoID, "-", ""))
	if e.UUID != strings.ToUpper(strings.ReplaceAll(id, "-", "")) || e.CreationDate != "2024-03-05T14:30:00Z" ||
		e.TimeZone != "Etc/UTC" || !slices.Equal(e.Tags, []string{"travel"}) || e.Starred {
		t.Errorf("entry = %+v", e)
	}
	if e.Text != "# Trip\n\nWe left early.\n\n![](dayone-moment://"+ident+")" {
		t.Errorf("text = %q", e.Text)
	}
	if len(e.Photos) != 1 || e.Photos[0] != (exportformat.DayOnePhoto{Identifier: ident, MD5: md5hex, Type: "jpeg", OrderInEntry: 0,
		Filename: "IMG_1.jpg", Date: e.Photos[0].Date}) {
		t.Errorf("photos = %+v, want the JPEG alone (Day One takes no audio as a photo)", e.Photos)
	}
	if !regexp.MustCompile(`^[0-9A-F]{32}$`).MatchString(e.UUID) {
		t.Errorf("uuid %q is not Day One's form", e.UUID)
	}
	if p := journal.Entries[1]; p.UUID != strings.ToUpper(strings.ReplaceAll(plain, "-", "")) || p.Text != "just text" || p.Photos != nil {
		t.Errorf("plain entry = %+v", p)
	}
	if got := files["photos/"+md5hex+".jpeg"]; !bytes.Equal(got, jpeg) {
		t.Errorf("photos/%s.jpeg = %d bytes, want the JPEG", md5hex, len(got))
	}
	photos := 0
	for name := range files {
		if strings.HasPrefix(name, "photos/") {
			photos++
		}
	}
	if photos != 1 {
		t.Errorf("%d photo files, want 1 (one file per md5, as Day One names them)", photos)
	}
}

func TestExportRefusals(t *testing.T) {
	f := newFixture(t, Config{})
	e2e := testenv.NewUser(t, f.svc, "e2e")
	uce := testenv.NewUser(t, f.svc, "uce")
	keyless := testenv.KeylessAccessToken(t, f.svc, uce)
	for _, tc := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"markdown for e2e", e2e.AccessToken, "?format=markdown", http.StatusForbidden, "feature_unavailable_for_tier"},
		{"dayone for e2e", e2e.AccessToken, "?format=dayone", http.StatusForbidden, "feature_unavailable_for_tier"},
		{"unknown format", uce.AccessToken, "?format=pdf", http.StatusUnprocessableEntity, "validation_error"},
		{"empty format", uce.AccessToken, "?format=", http.StatusUnprocessableEntity, "validation_error"},
		{"uce session without its key", keyless, "?format=diary", http.StatusUnauthorized, "session_key_unavailable"},
		{"no token", "", "", http.StatusUnauthorized, "not_authenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testenv.Do(t, f.h, http.MethodGet, "/api/v1/export"+tc.query, tc.token, nil)
			var body struct{ Code string }
			res.JSON(t, &body)
			if res.Code != tc.status || body.Code != tc.code {
				t.Errorf("GET /export%s = %d %s, want %d %s", tc.query, res.Code, res.Body, tc.status, tc.code)
			}
		})
	}
	// No format means diary.
	if res := testenv.Do(t, f.h, http.MethodGet, "/api/v1/export", e2e.AccessToken, nil); res.Code != http.StatusOK {
		t.Errorf("GET /export = %d, want 200 (diary)", res.Code)
	}
}

// An entry a job delivered (shared/intake) and not yet redeemed is exported like any
// other: a uce account's text opened from its box, an e2e account's box as its ciphertext
// with its format.
func TestExportDeliveredEntries(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	pending := intake.NewPending(f.svc.Redis)
	deliver := func(u testenv.User) string {
		var id string
		err := store.Transact(ctx, f.svc.DB, func(tx pgx.Tx) error {
			d, err := intake.Deliver(ctx, tx, pending, intake.Incoming{UserID: u.ID, Body: intake.Body{Title: ptr("Pulled"), Content: "from away"},
				Source: "facebook", OccurredAt: day, Tags: []string{"fb"}})
			id = d.EntryID
			return err
		})
		if err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		return id
	}
	uce := testenv.NewUser(t, f.svc, "uce")
	id := deliver(uce)
	files, _, _ := f.exportZip(t, uce, "diary")
	var entries exportformat.Entries
	mustJSON(t, files[exportformat.DiaryEntries], &entries)
	if len(entries.Entries) != 1 || entries.Entries[0].ID != id || *entries.Entries[0].Title != "Pulled" ||
		*entries.Entries[0].Content != "from away" || entries.Entries[0].Source != "facebook" {
		t.Errorf("uce export of a pending entry = %+v", entries.Entries)
	}
	if files, _, _ := f.exportZip(t, uce, "markdown"); !bytes.Contains(files["2024/2024-03-05-"+id+".md"], []byte("from away")) {
		t.Errorf("markdown export lacks the pending entry's text: %v", keys(files))
	}

	e2e := testenv.NewUser(t, f.svc, "e2e")
	id = deliver(e2e)
	files, _, _ = f.exportZip(t, e2e, "diary")
	entries = exportformat.Entries{}
	mustJSON(t, files[exportformat.DiaryEntries], &entries)
	if len(entries.Entries) != 1 || entries.Entries[0].CiphertextFormat == nil || *entries.Entries[0].CiphertextFormat != intake.Format {
		t.Fatalf("e2e export of a delivered entry = %+v", entries.Entries)
	}
	box, _ := base64.StdEncoding.DecodeString(*entries.Entries[0].Ciphertext)
	if b, err := intake.Open(e2e.PrivateKey, id, box); err != nil || b.Content != "from away" {
		t.Errorf("the exported box opens to %+v, %v", b, err)
	}
}
