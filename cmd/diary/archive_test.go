package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/importer"
	"github.com/xmojo/diary/shared/exportformat"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// archiveWorld is the whole API in-process, with the importer behind the local Broker:
// import.requested goes from the archive function through the project's Trigger to the
// importer, as in the cluster.
type archiveWorld struct {
	t      *testing.T
	h      http.Handler
	svc    *platform.Services
	router *local.Router
	events *ingress
}

func newArchiveWorld(t *testing.T) *archiveWorld {
	t.Helper()
	env := inProcessEnv(t)
	imp, err := host.New(importer.New())
	if err != nil {
		t.Fatal(err)
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	router, err := local.NewRouter(m, local.Options{Handlers: brokerHandlers(map[string]http.Handler{"importer": imp})})
	if err != nil {
		t.Fatal(err)
	}
	events := newIngress(router)
	broker := httptest.NewServer(events)
	t.Cleanup(func() { broker.Close(); router.Close() })
	env["K_SINK"] = broker.URL
	if err := imp.Start(context.Background(), env); err != nil {
		t.Fatalf("start importer: %v", err)
	}
	t.Cleanup(func() { _ = imp.Stop(context.Background()) })
	return &archiveWorld{t: t, h: startGateway(t, diary.NewInProcess(groupFunctions()), env), svc: testenv.Services(t), router: router, events: events}
}

func (w *archiveWorld) do(u testenv.User, method, path string, body any, want int) testenv.Response {
	w.t.Helper()
	res := testenv.Do(w.t, w.h, method, path, u.AccessToken, body)
	if res.Code != want {
		w.t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, want)
	}
	return res
}

// sendTo sends data with a presigned request (url, headers) and expects 200.
func sendTo(t *testing.T, method, url string, headers map[string]string, data []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s presigned = %d", method, res.StatusCode)
	}
}

// upload stores data as a media of u for entryID through the media API.
func (w *archiveWorld) upload(u testenv.User, entryID, filename, contentType string, data []byte) {
	w.t.Helper()
	sum := sha256.Sum256(data)
	res := testenv.Do(w.t, w.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, map[string]any{"filename": filename, "content_type": contentType,
		"size_bytes": len(data), "sha256": hex.EncodeToString(sum[:]), "entry_id": entryID})
	if res.Code == http.StatusOK {
		return // deduplicated: the bytes are stored already
	}
	if res.Code != http.StatusCreated {
		w.t.Fatalf("POST /media/upload = %d %s", res.Code, res.Body)
	}
	var a struct {
		Media  struct{ ID string }
		Upload struct {
			URL     string
			Headers map[string]string
		}
	}
	res.JSON(w.t, &a)
	sendTo(w.t, http.MethodPut, a.Upload.URL, a.Upload.Headers, data)
	w.do(u, http.MethodPost, "/api/v1/media/"+a.Media.ID+"/complete", nil, http.StatusOK)
}

// importZip runs an import of the zip for u to its end, through the API and the Broker.
func (w *archiveWorld) importZip(u testenv.User, format string, data []byte) map[string]any {
	w.t.Helper()
	sum := sha256.Sum256(data)
	res := w.do(u, http.MethodPost, "/api/v1/imports", map[string]any{"format": format, "size_bytes": len(data), "sha256": hex.EncodeToString(sum[:])}, http.StatusCreated)
	var c struct {
		Import struct{ ID string }
		Upload struct {
			URL     string
			Method  string
			Headers map[string]string
		}
	}
	res.JSON(w.t, &c)
	sendTo(w.t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data)
	w.do(u, http.MethodPost, "/api/v1/imports/"+c.Import.ID+"/start", nil, http.StatusAccepted)
	w.events.waitFor(w.t, eventing.TypeImportRequested, c.Import.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.router.Drain(ctx); err != nil {
		w.t.Fatalf("drain the Broker: %v", err)
	}
	var got map[string]any
	w.do(u, http.MethodGet, "/api/v1/imports/"+c.Import.ID, nil, http.StatusOK).JSON(w.t, &got)
	return got
}

func (w *archiveWorld) export(u testenv.User) []byte {
	w.t.Helper()
	return w.do(u, http.MethodGet, "/api/v1/export?format=diary", nil, http.StatusOK).Body.Bytes()
}

// diaryZip is an export as its reader sees it.
type diaryZip struct {
	entries exportformat.Entries
	media   []exportformat.Media
	bytes   map[string][]byte // media id -> bytes
}

func readDiaryZip(t *testing.T, raw []byte) diaryZip {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var d diaryZip
	if err := json.Unmarshal(files[exportformat.DiaryEntries], &d.entries); err != nil {
		t.Fatal(err)
	}
	var mm exportformat.MediaManifest
	if err := json.Unmarshal(files[exportformat.DiaryMediaManifest], &mm); err != nil {
		t.Fatal(err)
	}
	d.media, d.bytes = mm.Media, map[string][]byte{}
	for _, m := range mm.Media {
		d.bytes[m.ID] = files[m.File]
	}
	return d
}

// comparable is an entry with what an import keeps: text (or ciphertext), tags, mood,
// time, and its media's bytes; not its ids, source or bookkeeping times.
type comparable struct {
	Title, Content, Ciphertext, Mood string
	Tags                             []string
	OccurredAt                       time.Time
	Media                            []string // sha256, filename, type, bytes' sha256, sorted
}

func (d diaryZip) comparable() []comparable {
	var out []comparable
	for _, e := range d.entries.Entries {
		c := comparable{Tags: e.Tags, OccurredAt: e.OccurredAt}
		for _, p := range []struct {
			dst *string
			src *string
		}{{&c.Title, e.Title}, {&c.Content, e.Content}, {&c.Ciphertext, e.Ciphertext}, {&c.Mood, e.Mood}} {
			if p.src != nil {
				*p.dst = *p.src
			}
		}
		for _, m := range d.media {
			if m.EntryID != nil && *m.EntryID == e.ID {
				sum := sha256.Sum256(d.bytes[m.ID])
				c.Media = append(c.Media, m.SHA256+" "+m.Filename+" "+m.ContentType+" "+hex.EncodeToString(sum[:]))
			}
		}
		slices.Sort(c.Media)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b comparable) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return out
}

// The round trip: a diary export imported into a new account of the same tier gives the
// same entries (text or ciphertext, tags, mood, times) and the same media bytes; the same
// file again creates nothing.
func TestArchiveRoundTrip(t *testing.T) {
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			w := newArchiveWorld(t)
			alice := testenv.NewUser(t, w.svc, tier)
			photo, note := randomData(t, 40_000), randomData(t, 3_000)
			base := time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC)
			var ids []string
			for i, body := range []map[string]any{
				{"title": "Day one", "content": "We arrived.", "mood": "glad", "tags": []string{"trip", "sea"}},
				{"content": "No title, no tags"},
				{"title": "Third", "content": "With the same photo", "tags": []string{"trip"}},
			} {
				if tier == "e2e" {
					body = map[string]any{"ciphertext": base64.StdEncoding.EncodeToString(randomData(t, 100+i)), "tags": body["tags"], "mood": body["mood"]}
				}
				body["occurred_at"] = base.Add(time.Duration(i) * 24 * time.Hour).Format(time.RFC3339)
				var e struct{ ID string }
				w.do(alice, http.MethodPost, "/api/v1/entries", body, http.StatusCreated).JSON(t, &e)
				ids = append(ids, e.ID)
			}
			w.upload(alice, ids[0], "beach.jpg", "image/jpeg", photo)
			w.upload(alice, ids[0], "note.pdf", "application/pdf", note)
			w.upload(alice, ids[2], "beach again.jpg", "image/jpeg", photo)
			exported := w.export(alice)

			bob := testenv.NewUser(t, w.svc, tier)
			got := w.importZip(bob, "diary", exported)
			if got["status"] != "succeeded" || got["entries_created"] != 3.0 || got["media_created"] != 3.0 || got["skipped"] != 0.0 ||
				len(got["errors"].([]any)) != 0 {
				t.Fatalf("import = %v, want 3 entries and 3 media", got)
			}
			// The media are bob's, readable through the media API (for uce the filenames
			// were sealed under bob's key when he looked at the import).
			var list struct {
				Items []struct{ Filename, ContentType string }
			}
			w.do(bob, http.MethodGet, "/api/v1/media", nil, http.StatusOK).JSON(t, &list)
			if len(list.Items) != 3 {
				t.Errorf("bob's media = %+v, want 3", list.Items)
			}
			a, b := readDiaryZip(t, exported).comparable(), readDiaryZip(t, w.export(bob)).comparable()
			if len(a) != 3 || !equalJSON(t, a, b) {
				t.Errorf("bob's diary differs from alice's:\nalice %+v\nbob   %+v", a, b)
			}

			// The same file again: nothing new.
			again := w.importZip(bob, "diary", exported)
			if again["status"] != "succeeded" || again["entries_created"] != 0.0 || again["media_created"] != 0.0 || again["skipped"] != 6.0 {
				t.Errorf("second import = %v, want nothing created, 6 skipped", again)
			}
			// And bob's own export into bob: everything is there already.
			own := w.importZip(bob, "diary", w.export(bob))
			if own["entries_created"] != 0.0 || own["media_created"] != 0.0 {
				t.Errorf("bob's own export imported into bob = %v, want nothing created", own)
			}
			var n int
			if err := w.svc.DB.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE user_id = $1`, bob.ID).Scan(&n); err != nil || n != 3 {
				t.Errorf("bob has %d entries (%v), want 3", n, err)
			}
		})
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
