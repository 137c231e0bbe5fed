package media

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/testenv"
)

// presignCounter is the real object store, counting the PUT URLs it signs.
type presignCounter struct {
	objectStore
	puts atomic.Int64
}

func (c *presignCounter) PresignPut(ctx context.Context, key string, size int64, sum []byte, contentType string, ttl time.Duration) (objstore.Presigned, error) {
	c.puts.Add(1)
	return c.objectStore.PresignPut(ctx, key, size, sum, contentType, ttl)
}

func withObjects(o objectStore) option { return func(s *server) { s.objects = o } }

// listIDs returns the ids GET /media?<query> lists.
func (f fixture) listIDs(t *testing.T, u testenv.User, query string) []string {
	t.Helper()
	resp := testenv.Do(t, f.h, http.MethodGet, "/api/v1/media?"+query, u.AccessToken, nil)
	var l listResponse
	resp.JSON(t, &l)
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /?%s = %d %s, want 200", query, resp.Code, resp.Body)
	}
	ids := make([]string, len(l.Items))
	for i, m := range l.Items {
		ids[i] = m.ID
	}
	return ids
}

// objectKeyOf reads a media row's object key.
func (f fixture) objectKeyOf(t *testing.T, mediaID string) string {
	t.Helper()
	var key string
	if err := f.svc.DB.QueryRow(context.Background(), `SELECT object_key FROM media WHERE id = $1`, mediaID).Scan(&key); err != nil {
		t.Fatalf("object key of %s: %v", mediaID, err)
	}
	return key
}

func TestDeduplicationForAnotherEntry(t *testing.T) {
	t.Parallel()
	data := randomBytes(t, 4000)
	// Room for the bytes once and 100 more: counting the shared bytes twice would refuse
	// the last upload below.
	f := newFixture(t, withQuota(int64(len(data))+100))
	u := testenv.NewUser(t, f.svc, "uce")
	entryA, entryB := newEntry(t, f.svc, u.ID), newEntry(t, f.svc, u.ID)

	forA := uploadBody("beach.jpg", "image/jpeg", data)
	forA["entry_id"] = entryA
	a := f.uploadReadyWith(t, u, forA, data)

	forB := uploadBody("beach, again.jpg", "image/jpeg", data)
	forB["entry_id"] = entryB
	resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, forB)
	var got uploadAnswer
	resp.JSON(t, &got)
	b := got.Media
	if resp.Code != http.StatusOK || !got.Deduplicated || got.Upload != nil {
		t.Fatalf("POST /upload of A's bytes for entry B = %d %s, want 200 deduplicated without an upload", resp.Code, resp.Body)
	}
	if b.ID == a.ID || b.EntryID == nil || *b.EntryID != entryB || b.Status != statusReady ||
		b.Filename != "beach, again.jpg" || b.SizeBytes != a.SizeBytes || b.SHA256 != a.SHA256 || b.ContentType != a.ContentType {
		t.Errorf("deduplicated media for entry B = %+v, want a new ready media of entry B named as asked, with A's bytes (A is %+v)", b, a)
	}
	if ka, kb := f.objectKeyOf(t, a.ID), f.objectKeyOf(t, b.ID); ka != kb {
		t.Errorf("object keys: A %s, B %s; want B to share A's object", ka, kb)
	}

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"entry_id=" + entryA, []string{a.ID}},
		{"entry_id=" + entryB, []string{b.ID}},
		{"", []string{b.ID, a.ID}},
	} {
		if ids := f.listIDs(t, u, tt.query); len(ids) != len(tt.want) || (len(ids) > 0 && ids[0] != tt.want[0]) || (len(ids) > 1 && ids[1] != tt.want[1]) {
			t.Errorf("GET /?%s = %v, want %v", tt.query, ids, tt.want)
		}
	}

	// Asking again answers the existing media: B's for entry B, A's for entry A, and the
	// oldest without an entry, as before.
	for _, tt := range []struct {
		name    string
		entryID string
		want    string
	}{
		{"entry B again", entryB, b.ID},
		{"entry A", entryA, a.ID},
		{"no entry", "", a.ID},
	} {
		body := uploadBody("x.jpg", "image/jpeg", data)
		if tt.entryID != "" {
			body["entry_id"] = tt.entryID
		}
		resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, body)
		var again uploadAnswer
		resp.JSON(t, &again)
		if resp.Code != http.StatusOK || !again.Deduplicated || again.Media.ID != tt.want {
			t.Errorf("POST /upload of the same bytes, %s = %d %s, want 200 deduplicated with media %s", tt.name, resp.Code, resp.Body, tt.want)
		}
	}
	if ids := f.listIDs(t, u, ""); len(ids) != 2 {
		t.Errorf("GET / after asking again = %v, want still the two media", ids)
	}

	// B's download serves the shared bytes.
	resp = testenv.Do(t, f.h, http.MethodGet, "/api/v1/media/"+b.ID+"/download", u.AccessToken, nil)
	var dl downloadResponse
	resp.JSON(t, &dl)
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /download of B = %d %s, want 200", resp.Code, resp.Body)
	}
	dresp, body := fetch(t, dl.URL)
	if dresp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET B's download url = %d with %d bytes, want 200 with the %d bytes uploaded for A", dresp.StatusCode, len(body), len(data))
	}

	// The bytes are stored once and counted once.
	f.requestUpload(t, u, uploadBody("small.png", "image/png", randomBytes(t, 100)))

	// Deleting A's media leaves B's, and its room stays taken: the object is still needed.
	if resp := testenv.Do(t, f.h, http.MethodDelete, "/api/v1/media/"+a.ID, u.AccessToken, nil); resp.Code != http.StatusNoContent {
		t.Fatalf("DELETE A = %d, want 204", resp.Code)
	}
	if ids := f.listIDs(t, u, "entry_id="+entryB); len(ids) != 1 || ids[0] != b.ID {
		t.Errorf("GET /?entry_id=B after deleting A's media = %v, want [%s]", ids, b.ID)
	}
	resp = testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, uploadBody("one more.png", "image/png", randomBytes(t, 1)))
	if resp.Code != http.StatusForbidden {
		t.Errorf("POST /upload with A's media deleted but B's sharing its object = %d %s, want 403: the object still counts", resp.Code, resp.Body)
	}
}

func TestPresignOnlyWhenAnUploadIsNeeded(t *testing.T) {
	t.Parallel()
	counter := &presignCounter{objectStore: testObjects(t)}
	data := randomBytes(t, 600)
	f := newFixture(t, withObjects(counter), withQuota(1000))
	u := testenv.NewUser(t, f.svc, "e2e")
	entry := newEntry(t, f.svc, u.ID)

	f.uploadReady(t, u, "a.png", "image/png", data)
	if n := counter.puts.Load(); n != 1 {
		t.Fatalf("PUT URLs signed for one upload = %d, want 1", n)
	}
	forEntry := uploadBody("a.png", "image/png", data)
	forEntry["entry_id"] = entry
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
	}{
		{"deduplicated", uploadBody("a.png", "image/png", data), http.StatusOK},
		{"deduplicated for another entry", forEntry, http.StatusOK},
		{"past the quota", uploadBody("b.png", "image/png", randomBytes(t, 401)), http.StatusForbidden},
	} {
		before := counter.puts.Load()
		resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, tt.body)
		if resp.Code != tt.status {
			t.Errorf("POST /upload %s = %d %s, want %d", tt.name, resp.Code, resp.Body, tt.status)
		}
		if n := counter.puts.Load() - before; n != 0 {
			t.Errorf("POST /upload %s signed %d PUT URLs, want none", tt.name, n)
		}
	}
}

func TestConcurrentDeduplicationsForOneEntryMakeOneMedia(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := testenv.NewUser(t, f.svc, "e2e")
	entryA, entryB := newEntry(t, f.svc, u.ID), newEntry(t, f.svc, u.ID)
	data := randomBytes(t, 300)
	forA := uploadBody("a.webp", "image/webp", data)
	forA["entry_id"] = entryA
	f.uploadReadyWith(t, u, forA, data)

	const n = 8
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := uploadBody("b.webp", "image/webp", data)
			body["entry_id"] = entryB
			resp := testenv.Do(t, f.h, http.MethodPost, "/api/v1/media/upload", u.AccessToken, body)
			var a uploadAnswer
			resp.JSON(t, &a)
			if resp.Code != http.StatusOK || !a.Deduplicated {
				t.Errorf("concurrent POST /upload for entry B = %d %s, want 200 deduplicated", resp.Code, resp.Body)
			}
			ids <- a.Media.ID
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if got := f.listIDs(t, u, "entry_id="+entryB); len(seen) != 1 || len(got) != 1 || !seen[got[0]] {
		t.Errorf("%d concurrent dedups for entry B answered media %v and B lists %v, want one and the same media", n, seen, got)
	}
}
