package importer

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/testenv"
)

// dayoneJournal is a Journal.json as Day One writes it (the fields of its documented
// export, with some it writes that the diary reads past), and the photos it names.
func dayoneJournal(t *testing.T) (journal []byte, photoA, photoB []byte) {
	photoA, photoB = randomBytes(t, 5000), randomBytes(t, 3000)
	a, b := md5hex(photoA), md5hex(photoB)
	journal = []byte(`{
  "metadata" : {"version" : "1.0"},
  "entries" : [
    {
      "uuid" : "2F8DDCA258634D9994DF3A4FEE328035",
      "creationDate" : "2021-03-03T11:48:50Z",
      "modifiedDate" : "2021-03-03T11:59:09Z",
      "timeZone" : "Australia\/Sydney",
      "starred" : false,
      "duration" : 0,
      "creationDevice" : "Phone",
      "richText" : "{\"meta\":{\"version\":1}}",
      "location" : {"localityName" : "Wanniassa", "latitude" : -35.4, "longitude" : 149.08},
      "weather" : {"temperatureCelsius" : 12, "conditionsDescription" : "Mostly Clear"},
      "text" : "# All packed up finally \\.\\. still checking\n\n![](dayone-moment:\/\/76F9B0AC37954B51BF8B9146498B29C2)\n\nCairns here we come\\.",
      "tags" : ["Travel", "cairns"],
      "photos" : [
        {"identifier" : "76F9B0AC37954B51BF8B9146498B29C2", "md5" : "` + a + `", "type" : "jpeg", "orderInEntry" : 0,
         "filename" : "IMG_8615.HEIC", "width" : 3200, "height" : 2400, "date" : "2021-03-03T11:48:50Z"}
      ]
    },
    {
      "uuid" : "ABF26CD8D3EA42E298F1C3D5EFB0CF83",
      "creationDate" : "2021-06-01T09:15:00",
      "timeZone" : "America/New_York",
      "starred" : true,
      "text" : "No heading here, two photos.\n\n![](dayone-moment://06EA843B046A47929D0D0E7941E08DDE)",
      "photos" : [
        {"identifier" : "06EA843B046A47929D0D0E7941E08DDE", "md5" : "` + b + `", "type" : "png", "orderInEntry" : 1},
        {"identifier" : "28FC50E609154C6083332ABCF61EE289", "md5" : "` + a + `", "type" : "jpeg", "orderInEntry" : 0}
      ]
    },
    {
      "uuid" : "C1A1F6787CEC46F1AD61A4DD557F9EEC",
      "creationDate" : "2022-01-01T00:30:00+09:00",
      "timeZone" : "Asia\/Tokyo",
      "text" : "New year in Tokyo"
    }
  ]
}`)
	return journal, photoA, photoB
}

func TestDayOneImport(t *testing.T) {
	w := newWorld(t, defaultConfig())
	u := testenv.NewUser(t, w.svc, "uce")
	journal, photoA, photoB := dayoneJournal(t)
	zipBytes := buildZip(t,
		zipFile{name: "Journal.json", data: journal, method: 8},
		zipFile{name: "photos/" + md5hex(photoA) + ".jpeg", data: photoA},
		zipFile{name: "photos/" + md5hex(photoB) + ".png", data: photoB},
	)
	s := w.stage(u, "dayone", zipBytes)
	st := w.run(s)
	if st.Status != "succeeded" || st.JobStatus != "succeeded" || st.EntriesCreated != 3 || st.MediaCreated != 3 ||
		st.Skipped != 0 || len(st.Errors) != 0 || st.StagingKey != nil {
		t.Fatalf("import = %+v, want succeeded with 3 entries and 3 media", st)
	}
	if w.objectExists(s.key) {
		t.Error("the staging object is still there")
	}

	got := w.entriesOf(u)
	if len(got) != 3 {
		t.Fatalf("entries = %+v, want 3", got)
	}
	want := []struct {
		title   *string
		content string
		tags    []string
		at      time.Time
	}{
		{ptr("All packed up finally .. still checking"), "![](dayone-moment://76F9B0AC37954B51BF8B9146498B29C2)\n\nCairns here we come\\.",
			[]string{"cairns", "travel"}, time.Date(2021, 3, 3, 11, 48, 50, 0, time.UTC)},
		// Written without an offset: read in its timeZone, New York's summer time.
		{nil, "No heading here, two photos.\n\n![](dayone-moment://06EA843B046A47929D0D0E7941E08DDE)",
			[]string{}, time.Date(2021, 6, 1, 13, 15, 0, 0, time.UTC)},
		{nil, "New year in Tokyo", []string{}, time.Date(2021, 12, 31, 15, 30, 0, 0, time.UTC)},
	}
	for i, e := range got {
		wt := want[i]
		if (e.Title == nil) != (wt.title == nil) || (e.Title != nil && *e.Title != *wt.title) || e.Content != wt.content ||
			!slices.Equal(e.Tags, wt.tags) || !e.OccurredAt.Equal(wt.at) || e.Source != "dayone" || e.Mood != nil {
			t.Errorf("entry %d = %+v (title %v), want %+v", i, e, deref(e.Title), wt)
		}
	}
	// Photos wait for their media rows (their filenames need the master key); the same
	// bytes in two entries are stored once.
	rows, err := w.svc.DB.Query(context.Background(), `
		SELECT entry_id::text, object_key, content_type, size_bytes FROM import_media WHERE user_id = $1 ORDER BY created_at, id`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	perEntry := map[string][]string{}
	for rows.Next() {
		var entry, key, ct string
		var size int64
		if err := rows.Scan(&entry, &key, &ct, &size); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, "u/"+u.ID+"/") {
			t.Errorf("object %s is not under the user's prefix", key)
		}
		keys[key] = true
		perEntry[entry] = append(perEntry[entry], ct)
	}
	if len(keys) != 2 || len(perEntry[got[0].ID]) != 1 || len(perEntry[got[1].ID]) != 2 {
		t.Errorf("waiting media: %d objects, per entry %v; want 2 objects, 1 and 2 photos", len(keys), perEntry)
	}
	for key := range keys {
		body, _, ok, err := w.objects.Get(context.Background(), key)
		if err != nil || !ok {
			t.Fatalf("object %s: %v, %v", key, ok, err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(body)
		body.Close()
		if !bytes.Equal(buf.Bytes(), photoA) && !bytes.Equal(buf.Bytes(), photoB) {
			t.Errorf("object %s holds other bytes than the photos", key)
		}
	}

	// The same zip again: nothing new.
	again := w.run(w.stage(u, "dayone", zipBytes))
	if again.Status != "succeeded" || again.EntriesCreated != 0 || again.MediaCreated != 0 || again.Skipped != 6 {
		t.Errorf("second import = %+v, want nothing created and 6 skipped", again)
	}
	if n := w.count(`SELECT count(*) FROM entries WHERE user_id = $1`, u.ID); n != 3 {
		t.Errorf("%d entries after the second import, want 3", n)
	}
	wantEntriesChanged(t, w, u.ID, 3)
	if n := w.count(`SELECT count(*) FROM import_media WHERE user_id = $1`, u.ID); n != 3 {
		t.Errorf("%d waiting media after the second import, want 3", n)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
