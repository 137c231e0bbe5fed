package importer

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/exportformat"
)

// fuzzLimits are the zip limits of FuzzImportZip: small, so that a bomb or a zip of many
// files is found within seconds, and so that what is read stays small.
var fuzzLimits = limits{maxFiles: 64, maxUncompressed: 4 << 20, maxRatio: 100}

// FuzzImportZip feeds the import's zip reader arbitrary bytes and mutations of small
// valid archives (a Day One export with a photo, a diary export of each tier with a media),
// read as each format and tier, everything the importer does with a zip before it creates
// anything. Properties: no panic; every refusal is the user's error (a message for the
// import's failure: errBadZip or errBadInput), never an error a retry would repeat for
// ever; the limits hold (files, declared total, ratio, safe names); what is read of a
// file is at most its declared size, and of all files at most the total; every entry is
// either valid (an id, a time, media inside the zip's media directory) or says why not.
func FuzzImportZip(f *testing.F) {
	photo := bytes.Repeat([]byte("jpeg"), 64)
	dayone := buildZip(f,
		zipFile{name: exportformat.DayOneJournal, method: zip.Deflate, data: mustMarshal(f, map[string]any{
			"metadata": map[string]string{"version": "1.0"},
			"entries": []map[string]any{
				{"uuid": "AAAA0000AAAA0000AAAA0000AAAA0001", "creationDate": "2023-05-01T10:00:00Z", "timeZone": "Europe/Paris",
					"text": "# Sea\nwalked", "tags": []string{"sea"},
					"photos": []map[string]any{{"identifier": "BBBB0000BBBB0000BBBB0000BBBB0001", "md5": "0123456789abcdef0123456789abcdef", "type": "jpeg"}}},
				{"uuid": "nope", "creationDate": "2023-05-01 10:00", "timeZone": "../../etc/passwd"},
			},
		})},
		zipFile{name: exportformat.DayOnePhotoDir + "0123456789abcdef0123456789abcdef.jpeg", data: photo})
	diary := func(tier string) []byte {
		content, ct := "walked by the sea", base64.StdEncoding.EncodeToString([]byte("ciphertext"))
		entry := exportformat.Entry{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Tags: []string{"sea"}, Source: "app",
			OccurredAt: time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC), Version: 1}
		if tier == "uce" {
			entry.Content = &content
		} else {
			entry.Ciphertext = &ct
		}
		entryID := entry.ID
		return buildZip(f,
			zipFile{name: exportformat.DiaryManifest, data: mustMarshal(f, exportformat.Manifest{Format: exportformat.DiaryFormat, FormatVersion: exportformat.DiaryVersion, Tier: tier})},
			zipFile{name: exportformat.DiaryEntries, method: zip.Deflate, data: mustMarshal(f, exportformat.Entries{Entries: []exportformat.Entry{entry, {ID: "x"}}, Deleted: []exportformat.Entry{entry}})},
			zipFile{name: exportformat.DiaryMediaManifest, data: mustMarshal(f, exportformat.MediaManifest{Media: []exportformat.Media{
				{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", File: exportformat.DiaryMediaDir + "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", Filename: "sea.jpg",
					ContentType: "image/jpeg", SizeBytes: int64(len(photo)), SHA256: strings.Repeat("ab", 32), EntryID: &entryID},
				{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d", File: "../media/x"},
			}})},
			zipFile{name: exportformat.DiaryMediaDir + "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", data: photo})
	}
	for _, z := range [][]byte{dayone, diary("uce"), diary("e2e")} {
		for format := range byte(3) {
			f.Add(format, z)
		}
	}
	f.Add(byte(0), buildZip(f, zipFile{name: "Journal.json", data: []byte(`{"entries": {"a": 1}}`)}))
	f.Add(byte(0), buildZip(f, zipFile{name: "Journal.json", data: bytes.Repeat([]byte(" "), 2<<20), method: zip.Deflate}))
	f.Add(byte(1), buildZip(f, zipFile{name: "manifest.json", data: []byte(`{"format":"diary","format_version":1,"tier":"uce"}`)},
		zipFile{name: "entries.json", data: []byte(`{"entries":[{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","content":"x","occurred_at":"2024-05-01T00:00:00Z"}],"deleted":[]}`)}))
	f.Add(byte(0), buildZip(f, zipFile{name: "photos/../../etc/passwd", data: []byte("x")}))
	f.Add(byte(0), buildZip(f, zipFile{name: "a"}, zipFile{name: "a"}))
	f.Add(byte(0), []byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(byte(0), dayone[:len(dayone)/2])
	f.Fuzz(func(t *testing.T, format byte, raw []byte) {
		wantUserError := func(step string, err error) {
			t.Helper()
			if userMessage(err) == "" {
				t.Fatalf("%s: %v (%T), want the user's error (errBadZip or errBadInput)", step, err, err)
			}
		}
		a, err := openArchive(bytes.NewReader(raw), int64(len(raw)), fuzzLimits)
		if err != nil {
			wantUserError("openArchive", err)
			return
		}
		if len(a.names) > fuzzLimits.maxFiles {
			t.Fatalf("accepted %d files", len(a.names))
		}
		var declared uint64
		for _, name := range a.names {
			file := a.files[name]
			declared += file.UncompressedSize64
			if !safeName(name) || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
				t.Fatalf("accepted the name %q", name)
			}
			if file.UncompressedSize64 > ratioFloor && file.UncompressedSize64 > uint64(fuzzLimits.maxRatio)*max(file.CompressedSize64, 1) {
				t.Fatalf("accepted %q inflating %d to %d", name, file.CompressedSize64, file.UncompressedSize64)
			}
		}
		if declared > uint64(fuzzLimits.maxUncompressed) {
			t.Fatalf("accepted a zip declaring %d bytes", declared)
		}
		// Every file reads as at most its declared size, or fails as the user's error.
		var read int64
		for _, name := range a.names {
			rc, size, err := a.open(name)
			if err != nil {
				wantUserError("open "+name, err)
				continue
			}
			n, err := io.Copy(io.Discard, rc)
			_ = rc.Close()
			read += n
			if n > size {
				t.Fatalf("read %d bytes of %q, declared %d", n, name, size)
			}
			if err != nil {
				wantUserError("read "+name, err)
			}
		}
		if read > fuzzLimits.maxUncompressed {
			t.Fatalf("read %d bytes in all", read)
		}

		var src source
		mediaDir := exportformat.DiaryMediaDir
		switch format % 3 {
		case 0:
			src, err = openDayOne(a)
			mediaDir = exportformat.DayOnePhotoDir
		case 1:
			src, err = openDiary(a, "uce")
		case 2:
			src, err = openDiary(a, "e2e")
		}
		if err != nil {
			wantUserError("open the source", err)
			return
		}
		counted, err := src.count()
		if err != nil {
			wantUserError("count", err)
			return
		}
		checkMedia := func(m mediaRef) {
			if m.invalid == "" && (!strings.HasPrefix(m.file, mediaDir) || !safeName(m.file) || m.sourceID == "") {
				t.Fatalf("valid media %+v outside %s", m, mediaDir)
			}
		}
		seen := 0
		err = src.each(func(it item) error {
			seen++
			if it.label == "" || it.sourceID == "" {
				t.Fatalf("item %d without a label or source id: %+v", seen, it)
			}
			if it.invalid == "" {
				if it.occurredAt.IsZero() || (it.ciphertext == nil) == (format%3 == 2) {
					t.Fatalf("valid item %+v of format %d", it, format%3)
				}
				for _, m := range it.media {
					checkMedia(m)
				}
			}
			return nil
		})
		if err != nil {
			wantUserError("each", err)
			return
		}
		if seen != counted {
			t.Fatalf("count() = %d, each() gave %d", counted, seen)
		}
		for _, m := range src.loose() {
			checkMedia(m)
		}
	})
}
