package importer

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/exportformat"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/testenv"
)

func dayoneEntry(uuid, text string) map[string]any {
	return map[string]any{"uuid": uuid, "creationDate": "2023-05-01T10:00:00Z", "timeZone": "Europe/Paris", "text": text}
}

func journalOf(t *testing.T, entries ...map[string]any) []byte {
	return mustMarshal(t, map[string]any{"metadata": map[string]string{"version": "1.0"}, "entries": entries})
}

// Zips no export makes fail as a whole, with a message for the user, before anything is
// created; the staging object goes all the same.
func TestHostileZipsFailTheImport(t *testing.T) {
	w := newWorld(t, defaultConfig())
	good := journalOf(t, dayoneEntry("AAAA0000AAAA0000AAAA0000AAAA0001", "fine"))
	bomb := bytes.Repeat([]byte{0}, 20<<20) // deflates about 1000 times
	for _, tc := range []struct {
		name   string
		format string
		zip    []byte
		want   string
	}{
		{"not a zip", "dayone", randomBytes(t, 5000), "not a zip archive"},
		{"a truncated zip", "dayone", buildZip(t, zipFile{name: "Journal.json", data: good, method: 8})[:60], "not a zip archive"},
		{"a zip bomb", "dayone", buildZip(t, zipFile{name: "Journal.json", data: good}, zipFile{name: "photos/x.jpeg", data: bomb, method: 8}), "zip bomb"},
		{"a path with ..", "dayone", buildZip(t, zipFile{name: "Journal.json", data: good}, zipFile{name: "photos/../../etc/passwd", data: []byte("x")}), "leaves the archive"},
		{"an absolute path", "dayone", buildZip(t, zipFile{name: "/Journal.json", data: good}), "leaves the archive"},
		{"a backslash path", "dayone", buildZip(t, zipFile{name: "Journal.json", data: good}, zipFile{name: `photos\..\x`, data: []byte("x")}), "leaves the archive"},
		{"JSON that does not parse", "dayone", buildZip(t, zipFile{name: "Journal.json", data: append(good[:len(good)-5:len(good)-5], []byte(`,,]}`)...)}), "not valid JSON"},
		{"entries that are not an array", "dayone", buildZip(t, zipFile{name: "Journal.json", data: []byte(`{"entries": {"a": 1}}`)}), "not valid JSON"},
		{"no journal", "dayone", buildZip(t, zipFile{name: "photos/a.jpeg", data: []byte("x")}), "no Day One journal"},
		{"not a diary export", "diary", buildZip(t, zipFile{name: "Journal.json", data: good}), "not a diary export"},
		{"a diary export of the other tier", "diary", buildZip(t,
			zipFile{name: "manifest.json", data: mustMarshal(t, exportformat.Manifest{Format: "diary", FormatVersion: 1, Tier: "e2e"})},
			zipFile{name: "entries.json", data: []byte(`{"entries": [], "deleted": []}`)}), "from a e2e account"},
		{"a diary export of a future version", "diary", buildZip(t,
			zipFile{name: "manifest.json", data: mustMarshal(t, exportformat.Manifest{Format: "diary", FormatVersion: 9, Tier: "uce"})},
			zipFile{name: "entries.json", data: []byte(`{"entries": [], "deleted": []}`)}), "format version 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := testenv.NewUser(t, w.svc, "uce")
			s := w.stage(u, tc.format, tc.zip)
			st := w.run(s)
			if st.Status != "failed" || st.Failure == nil || !strings.Contains(*st.Failure, tc.want) || st.JobStatus != "failed" ||
				st.JobError == nil || *st.JobError != *st.Failure {
				t.Errorf("import = %+v (failure %q), want failed with %q", st, deref(st.Failure), tc.want)
			}
			if n := w.count(`SELECT count(*) FROM entries WHERE user_id = $1`, u.ID); n != 0 {
				t.Errorf("%d entries created from a refused zip", n)
			}
			if w.objectExists(s.key) || st.StagingKey != nil {
				t.Error("the staging object is still there")
			}
			// A redelivery of the event does nothing more.
			if again := w.run(s); again.Status != "failed" {
				t.Errorf("after a redelivery the import is %+v", again)
			}
		})
	}
}

func TestTotalUncompressedSizeIsBounded(t *testing.T) {
	cfg := defaultConfig()
	cfg.MaxUncompressedBytes = 64 << 10
	w := newWorld(t, cfg)
	u := testenv.NewUser(t, w.svc, "uce")
	st := w.run(w.stage(u, "dayone", buildZip(t,
		zipFile{name: "Journal.json", data: journalOf(t, dayoneEntry("AAAA0000AAAA0000AAAA0000AAAA0001", "x"))},
		zipFile{name: "photos/big.jpeg", data: randomBytes(t, 100<<10)})))
	if st.Status != "failed" || !strings.Contains(deref(st.Failure), "inflates to more than") {
		t.Errorf("import = %+v, want failed: too large inflated", st)
	}
}

// Items that break the rules become errors items; everything else is imported.
func TestBadItemsBecomeErrorsAndTheRestIsImported(t *testing.T) {
	w := newWorld(t, defaultConfig())
	u := testenv.NewUser(t, w.svc, "uce")
	photo := randomBytes(t, 1000)
	liar := randomBytes(t, 1000)
	tooMany := make([]string, 40)
	for i := range tooMany {
		tooMany[i] = "t" + string(rune('a'+i%26)) + strings.Repeat("x", i)
	}
	withPhoto := dayoneEntry("AAAA0000AAAA0000AAAA0000AAAA0003", "photos")
	withPhoto["photos"] = []map[string]any{
		{"identifier": "P1", "md5": md5hex(photo), "type": "jpeg"},
		{"identifier": "P2", "md5": md5hex(photo)[:31] + "0", "type": "jpeg"}, // no such file
		{"identifier": "P3", "md5": md5hex(liar), "type": "jpeg"},             // file with other bytes
		{"identifier": "P4", "md5": md5hex(photo), "type": "svg"},             // not a kept type
	}
	st := w.run(w.stage(u, "dayone", buildZip(t,
		zipFile{name: "Journal.json", method: 8, data: journalOf(t,
			dayoneEntry("AAAA0000AAAA0000AAAA0000AAAA0001", "fine"),
			dayoneEntry("AAAA0000AAAA0000AAAA0000AAAA0002", "CANARYTEXT"+letters(t, 1<<20)),
			withPhoto,
			map[string]any{"uuid": "AAAA0000AAAA0000AAAA0000AAAA0004", "creationDate": "yesterday", "text": "bad date"},
			map[string]any{"uuid": "AAAA0000AAAA0000AAAA0000AAAA0005", "creationDate": "2023-05-01T10:00:00Z", "text": "tags", "tags": tooMany},
			map[string]any{"uuid": "../../x", "creationDate": "2023-05-01T10:00:00Z", "text": "bad uuid"},
			map[string]any{"uuid": "AAAA0000AAAA0000AAAA0000AAAA0006", "creationDate": "2023-05-01T10:00:00Z", "text": 42},
		)},
		zipFile{name: "photos/" + md5hex(photo) + ".jpeg", data: photo},
		zipFile{name: "photos/" + md5hex(liar) + ".jpeg", data: randomBytes(t, 1000)},
	)))
	if st.Status != "succeeded" || st.EntriesCreated != 2 || st.MediaCreated != 1 {
		t.Fatalf("import = %+v, want succeeded with the 2 good entries and the 1 good photo", st)
	}
	want := []string{
		"Journal.json entries[1] (uuid AAAA0000AAAA0000AAAA0000AAAA0002)|content must be at most",
		"Journal.json entries[3] (uuid AAAA0000AAAA0000AAAA0000AAAA0004)|creationDate is not a date",
		"Journal.json entries[4] (uuid AAAA0000AAAA0000AAAA0000AAAA0005)|tags must hold at most 32",
		"Journal.json entries[5]|no uuid",
		"Journal.json entries[6]|not of the expected shape",
		// A batch's entries come first, then their media.
		"Journal.json entries[2].photos[1]|is not in the zip",
		"Journal.json entries[2].photos[2]|does not match the MD5",
		"Journal.json entries[2].photos[3]|not kept",
	}
	if len(st.Errors) != len(want) {
		t.Fatalf("errors = %+v, want %d", st.Errors, len(want))
	}
	for i, e := range st.Errors {
		item, msg, _ := strings.Cut(want[i], "|")
		if e.Item != item || !strings.Contains(e.Message, msg) {
			t.Errorf("errors[%d] = %+v, want item %q with %q", i, e, item, msg)
		}
		if strings.Contains(e.Message+e.Item, "CANARY") {
			t.Errorf("errors[%d] holds content", i)
		}
	}
}

// faultyStore is the real object store whose Put fails once a number of them have
// succeeded: a store outage in the middle of an import.
type faultyStore struct {
	*objstore.Store
	okPuts int
}

var errStoreDown = errors.New("test: the store is down")

func (s *faultyStore) Put(ctx context.Context, key string, body io.Reader, size int64, sum []byte, ct string) error {
	if s.okPuts == 0 {
		return errStoreDown
	}
	s.okPuts--
	return s.Store.Put(ctx, key, body, size, sum, ct)
}

// An import cut short (the store fails half-way) keeps what it created, returns the error
// so the Broker retries, and the redelivered event continues it: every entry and media
// exactly once, the counts exact.
func TestRedeliveredImportContinues(t *testing.T) {
	cfg := defaultConfig()
	cfg.BatchSize = 2
	w := newWorld(t, cfg)
	u := testenv.NewUser(t, w.svc, "e2e")
	var entries []exportformat.Entry
	var media []exportformat.Media
	files := []zipFile{}
	for i := range 6 {
		id := "0b6d2c1e-5f7a-4e3b-9c8d-1a2b3c4d5e6" + string(rune('0'+i))
		ct := base64.StdEncoding.EncodeToString(randomBytes(t, 64))
		entries = append(entries, exportformat.Entry{ID: id, Ciphertext: &ct, Tags: []string{}, Source: "app",
			OccurredAt: testTime.AddDate(0, 0, i), Version: 1})
		data := randomBytes(t, 500+i)
		mid := "1b6d2c1e-5f7a-4e3b-9c8d-1a2b3c4d5e6" + string(rune('0'+i))
		media = append(media, exportformat.Media{ID: mid, File: "media/" + mid, Filename: "f", ContentType: "image/png",
			SizeBytes: int64(len(data)), SHA256: sha256hex(data), EntryID: &id})
		files = append(files, zipFile{name: "media/" + mid, data: data})
	}
	files = append(files,
		zipFile{name: "manifest.json", data: mustMarshal(t, exportformat.Manifest{Format: "diary", FormatVersion: 1, Tier: "e2e"})},
		zipFile{name: "entries.json", data: mustMarshal(t, exportformat.Entries{Entries: entries, Deleted: []exportformat.Entry{}})},
		zipFile{name: "media/manifest.json", data: mustMarshal(t, exportformat.MediaManifest{Media: media})},
	)
	s := w.stage(u, "diary", buildZip(t, files...))
	ev := s.event(t)

	real := w.f.objects
	w.f.objects = &faultyStore{Store: w.objects, okPuts: 3}
	if _, err := w.f.Handle(context.Background(), ev); !errors.Is(err, errStoreDown) {
		t.Fatalf("Handle() with the store failing = %v, want its error (the Broker retries)", err)
	}
	mid := w.state(s)
	if mid.Status != "running" || mid.EntriesCreated == 0 || mid.MediaCreated != 3 || !w.objectExists(s.key) {
		t.Fatalf("after the failure the import = %+v, want running with what it created kept and its zip", mid)
	}
	w.f.objects = real
	if _, err := w.f.Handle(context.Background(), ev); err != nil {
		t.Fatalf("redelivered Handle() = %v", err)
	}
	st := w.state(s)
	if st.Status != "succeeded" || st.EntriesCreated != 6 || st.MediaCreated != 6 || st.Skipped != 0 || len(st.Errors) != 0 {
		t.Errorf("after the redelivery the import = %+v, want 6 entries and 6 media, nothing skipped", st)
	}
	if n := w.count(`SELECT count(*) FROM entries WHERE user_id = $1`, u.ID); n != 6 {
		t.Errorf("%d entries, want 6", n)
	}
	// Each entry's entry.changed was written in the batch that created it: one per entry,
	// none for the batches the redelivery found done.
	wantEntriesChanged(t, w, u.ID, 6)
	if n := w.count(`SELECT count(*) FROM media WHERE user_id = $1 AND status = 'ready' AND entry_id IS NOT NULL`, u.ID); n != 6 {
		t.Errorf("%d media, want 6", n)
	}
	// A third delivery of the same event: acknowledged, nothing more.
	if _, err := w.f.Handle(context.Background(), ev); err != nil || w.count(`SELECT count(*) FROM entries WHERE user_id = $1`, u.ID) != 6 {
		t.Errorf("third delivery = %v", err)
	}
}

// letters is n random lower-case letters: text that compresses like text.
func letters(t *testing.T, n int) string {
	b := randomBytes(t, n)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}
