package main

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestArchiveCanaryNeverStoredOrLogged puts a canary in a uce user's entries and media
// filenames, exports them, imports the export into another account and a Day One journal
// holding it too, and checks the canary is in no table (a pg_dump, in raw, hex and base64
// form), no Redis value, no log line and no event: only in the zips the user downloads.
func TestArchiveCanaryNeverStoredOrLogged(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	w := newArchiveWorld(t)
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	canary := "canary-" + hex.EncodeToString(nonce)

	alice := testenv.NewUser(t, w.svc, "uce")
	var e struct{ ID string }
	w.do(alice, http.MethodPost, "/api/v1/entries", map[string]any{"title": canary + " title", "content": canary + " content",
		"tags": []string{"t"}}, http.StatusCreated).JSON(t, &e)
	w.upload(alice, e.ID, canary+".jpg", "image/jpeg", randomData(t, 2000))
	exported := w.export(alice)
	if d := readDiaryZip(t, exported); len(d.entries.Entries) != 1 || !strings.Contains(*d.entries.Entries[0].Content, canary) ||
		len(d.media) != 1 || !strings.Contains(d.media[0].Filename, canary) {
		t.Fatal("the export does not hold the canary: the test would prove nothing")
	}
	for _, format := range []string{"markdown", "dayone"} {
		w.do(alice, http.MethodGet, "/api/v1/export?format="+format, nil, http.StatusOK)
	}
	bob := testenv.NewUser(t, w.svc, "uce")
	if got := w.importZip(bob, "diary", exported); got["entries_created"] != 1.0 || got["media_created"] != 1.0 {
		t.Fatalf("import = %v", got)
	}
	photo := randomData(t, 1500)
	sum := md5.Sum(photo)
	journal, _ := json.Marshal(map[string]any{"metadata": map[string]string{"version": "1.0"}, "entries": []map[string]any{
		{"uuid": "5F8DDCA258634D9994DF3A4FEE328035", "creationDate": "2021-03-03T11:48:50Z", "timeZone": "Europe/Paris",
			"text": "# " + canary + " heading\n\n" + canary + " body", "tags": []string{"x"},
			"photos": []map[string]any{{"identifier": "AB", "md5": hex.EncodeToString(sum[:]), "type": "jpeg", "filename": canary + ".heic"}}},
		{"uuid": "6F8DDCA258634D9994DF3A4FEE328035", "creationDate": "not a date", "text": canary + " in a bad entry"},
	}})
	got := w.importZip(bob, "dayone", zipOf(t, map[string][]byte{"Journal.json": journal, "photos/" + hex.EncodeToString(sum[:]) + ".jpeg": photo}))
	if got["entries_created"] != 1.0 || len(got["errors"].([]any)) != 1 {
		t.Fatalf("Day One import = %v, want 1 entry and 1 error", got)
	}
	w.do(bob, http.MethodGet, "/api/v1/imports", nil, http.StatusOK)
	w.do(bob, http.MethodGet, "/api/v1/media", nil, http.StatusOK)

	dump := testenv.DumpDatabase(t)
	if !bytes.Contains(dump, []byte(bob.ID)) {
		t.Fatal("the dump does not hold bob: is it the test database?")
	}
	for _, f := range testenv.Forms(canary) {
		if bytes.Contains(dump, []byte(f)) {
			t.Errorf("the database holds the canary (as %q)", f)
		}
		if key := testenv.RedisHolding(t, w.svc.Redis, f); key != "" {
			t.Errorf("Redis key %q holds the canary (as %q)", key, f)
		}
		if strings.Contains(logs.String(), f) {
			t.Errorf("the logs hold the canary (as %q)", f)
		}
		if strings.Contains(w.events.text(), f) {
			t.Errorf("an event holds the canary (as %q)", f)
		}
	}
	if !strings.Contains(w.events.text(), "com.xmojo.diary.import.requested") {
		t.Error("the event log saw no import.requested; is the capture working?")
	}
	if !strings.Contains(logs.String(), `"route":"GET /api/v1/export"`) {
		t.Error("the captured logs miss the export's access log line; is the capture working?")
	}
}

// zipOf builds a zip of the files (stored, in name order).
func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
