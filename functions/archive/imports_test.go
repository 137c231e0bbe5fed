package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
)

type createdImport struct {
	Import importView `json:"import"`
	Upload uploadView `json:"upload"`
}

func (f fixture) createImport(t *testing.T, u testenv.User, format string, zip []byte) createdImport {
	t.Helper()
	res := testenv.Do(t, f.h, http.MethodPost, "/api/v1/imports", u.AccessToken,
		map[string]any{"format": format, "size_bytes": len(zip), "sha256": hexSHA256(zip)})
	if res.Code != http.StatusCreated {
		t.Fatalf("POST /imports = %d %s, want 201", res.Code, res.Body)
	}
	var c createdImport
	res.JSON(t, &c)
	if res.Header().Get("Location") != "/api/v1/imports/"+c.Import.ID {
		t.Errorf("Location = %q", res.Header().Get("Location"))
	}
	return c
}

// put sends body to a presigned upload with exactly its headers.
func put(t *testing.T, up uploadView, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(up.Method, up.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range up.Headers {
		if k != "Content-Length" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestCreateImportRefusals(t *testing.T) {
	f := newFixture(t, Config{Quota: storage.Quota{QuotaBytes: 10_000}})
	uce := testenv.NewUser(t, f.svc, "uce")
	e2e := testenv.NewUser(t, f.svc, "e2e")
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		user   testenv.User
		body   any
		status int
		code   string
	}{
		{"no format", uce, map[string]any{"size_bytes": 10, "sha256": sum}, 422, "validation_error"},
		{"markdown is no import format", uce, map[string]any{"format": "markdown", "size_bytes": 10, "sha256": sum}, 422, "validation_error"},
		{"bad sha256", uce, map[string]any{"format": "diary", "size_bytes": 10, "sha256": "xyz"}, 422, "validation_error"},
		{"zero size", uce, map[string]any{"format": "diary", "size_bytes": 0, "sha256": sum}, 422, "validation_error"},
		{"over 2 GiB", uce, map[string]any{"format": "diary", "size_bytes": int64(2<<30) + 1, "sha256": sum}, 413, "too_large"},
		{"over the quota headroom", uce, map[string]any{"format": "diary", "size_bytes": 10_001, "sha256": sum}, 403, "quota_exceeded"},
		{"dayone for e2e", e2e, map[string]any{"format": "dayone", "size_bytes": 10, "sha256": sum}, 403, "feature_unavailable_for_tier"},
		{"unknown field", uce, map[string]any{"format": "diary", "size_bytes": 10, "sha256": sum, "x": 1}, 400, "unknown_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := testenv.Do(t, f.h, http.MethodPost, "/api/v1/imports", tc.user.AccessToken, tc.body)
			var body struct{ Code string }
			res.JSON(t, &body)
			if res.Code != tc.status || body.Code != tc.code {
				t.Errorf("POST /imports = %d %s, want %d %s", res.Code, res.Body, tc.status, tc.code)
			}
		})
	}
	// Media already stored count against the headroom.
	testenv.InsertMedia(t, f.svc, testenv.Media{UserID: uce.ID, Size: 9_000, Status: "ready"})
	res := testenv.Do(t, f.h, http.MethodPost, "/api/v1/imports", uce.AccessToken, map[string]any{"format": "diary", "size_bytes": 1_001, "sha256": sum})
	if res.Code != http.StatusForbidden {
		t.Errorf("POST /imports past the headroom left by stored media = %d, want 403", res.Code)
	}
}

func TestImportLifecycle(t *testing.T) {
	sink := testenv.NewEventSink(t)
	f := newFixture(t, Config{Sink: sink.URL})
	f.srv.relay.Start()
	t.Cleanup(func() { _ = f.srv.relay.Stop(context.Background()) })
	u := testenv.NewUser(t, f.svc, "uce")
	zip := randomBytes(t, 4096)
	c := f.createImport(t, u, "diary", zip)
	if c.Import.Status != "awaiting_upload" || c.Import.JobID != nil || c.Import.Format != "diary" || c.Upload.Method != http.MethodPut {
		t.Fatalf("created import = %+v", c)
	}
	var key string
	if err := f.svc.DB.QueryRow(context.Background(), `SELECT staging_key FROM imports WHERE id = $1`, c.Import.ID).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if key != "u/"+u.ID+"/imports/"+c.Import.ID+".zip" {
		t.Errorf("staging key = %q, want it under the user's prefix", key)
	}

	start := "/api/v1/imports/" + c.Import.ID + "/start"
	res := testenv.Do(t, f.h, http.MethodPost, start, u.AccessToken, nil)
	if res.Code != http.StatusConflict || !strings.Contains(res.Body.String(), "upload_missing") {
		t.Fatalf("start before the upload = %d %s, want 409 upload_missing", res.Code, res.Body)
	}
	if got := put(t, c.Upload, append([]byte{1}, zip[1:]...)); got < 400 {
		t.Fatalf("PUT of other bytes = %d, want the store to refuse them", got)
	}
	if got := put(t, c.Upload, zip); got != http.StatusOK {
		t.Fatalf("PUT = %d, want 200", got)
	}

	res = testenv.Do(t, f.h, http.MethodPost, start, u.AccessToken, nil)
	if res.Code != http.StatusAccepted {
		t.Fatalf("start = %d %s, want 202", res.Code, res.Body)
	}
	var started startResponse
	res.JSON(t, &started)
	j, err := job.Get(context.Background(), f.svc.DB, u.ID, started.JobID)
	if err != nil || j.Kind != "import" || j.Status != job.Queued {
		t.Errorf("job = %+v, %v; want a queued import job", j, err)
	}
	// Written in the start's transaction, and relayed with the row's id.
	rows := testenv.Outbox(t, f.svc.DB, u.ID)
	sent := testenv.Of(sink.Wait(t, func(evs []testenv.Event) bool { return len(testenv.Of(evs, u.ID)) >= 1 }), u.ID)
	if len(rows) != 1 || len(sent) != 1 || sent[0].ID != rows[0].ID || sent[0].Type != eventing.TypeImportRequested ||
		sent[0].Source != eventing.SourceArchive || sent[0].Subject != c.Import.ID {
		t.Fatalf("outbox %+v, sent %+v, want one import.requested", rows, sent)
	}
	var data map[string]string
	if err := json.Unmarshal(sent[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != 3 || data["user_id"] != u.ID || data["import_id"] != c.Import.ID || data["job_id"] != started.JobID {
		t.Errorf("event data = %v, want the three ids only", data)
	}

	// Again while queued: the same job, and the event once more (the Broker may have
	// given the first one up).
	res = testenv.Do(t, f.h, http.MethodPost, start, u.AccessToken, nil)
	var again startResponse
	res.JSON(t, &again)
	if n := len(testenv.Outbox(t, f.svc.DB, u.ID)); res.Code != http.StatusAccepted || again.JobID != started.JobID || n != 2 {
		t.Errorf("second start = %d %+v with %d events, want 202, the same job and a second event", res.Code, again, n)
	}

	res = testenv.Do(t, f.h, http.MethodGet, "/api/v1/imports/"+c.Import.ID, u.AccessToken, nil)
	var got importView
	res.JSON(t, &got)
	if res.Code != http.StatusOK || got.Status != "queued" || got.JobID == nil || *got.JobID != started.JobID || got.Errors == nil {
		t.Errorf("GET import = %d %+v", res.Code, got)
	}

	// Finished: start refuses.
	if _, err := f.svc.DB.Exec(context.Background(), `UPDATE imports SET status = 'succeeded', finished_at = now() WHERE id = $1`, c.Import.ID); err != nil {
		t.Fatal(err)
	}
	if res := testenv.Do(t, f.h, http.MethodPost, start, u.AccessToken, nil); res.Code != http.StatusConflict || !strings.Contains(res.Body.String(), "import_finished") {
		t.Errorf("start of a finished import = %d %s, want 409 import_finished", res.Code, res.Body)
	}
}

func TestAnotherUsersImportIsNotFound(t *testing.T) {
	f := newFixture(t, Config{})
	alice := testenv.NewUser(t, f.svc, "uce")
	bob := testenv.NewUser(t, f.svc, "uce")
	c := f.createImport(t, alice, "diary", randomBytes(t, 10))
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/imports/" + c.Import.ID},
		{http.MethodPost, "/api/v1/imports/" + c.Import.ID + "/start"},
		{http.MethodGet, "/api/v1/imports/not-a-uuid"},
		{http.MethodGet, "/api/v1/imports/0b6d2c1e-5f7a-4e3b-9c8d-1a2b3c4d5e6f"},
	} {
		res := testenv.Do(t, f.h, tc.method, tc.path, bob.AccessToken, nil)
		if res.Code != http.StatusNotFound || !strings.Contains(res.Body.String(), `"not_found"`) {
			t.Errorf("%s %s as bob = %d %s, want 404", tc.method, tc.path, res.Code, res.Body)
		}
	}
	res := testenv.Do(t, f.h, http.MethodGet, "/api/v1/imports", bob.AccessToken, nil)
	var list listResponse
	res.JSON(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("bob's list = %+v, want none of alice's", list)
	}
}

func TestListImportsPages(t *testing.T) {
	f := newFixture(t, Config{})
	u := testenv.NewUser(t, f.svc, "e2e")
	var ids []string
	for range 5 {
		ids = append(ids, f.createImport(t, u, "diary", randomBytes(t, 10)).Import.ID)
	}
	var got []string
	path := "/api/v1/imports?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the list does not end")
		}
		res := testenv.Do(t, f.h, http.MethodGet, path, u.AccessToken, nil)
		var page listResponse
		res.JSON(t, &page)
		if res.Code != http.StatusOK || len(page.Items) > 2 {
			t.Fatalf("GET %s = %d %s", path, res.Code, res.Body)
		}
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/imports?limit=2&cursor=" + *page.NextCursor
	}
	if len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
		t.Errorf("listed %v, want %v newest first", got, ids)
	}
	for _, q := range []string{"?limit=0", "?limit=", "?cursor=", "?cursor=abc"} {
		if res := testenv.Do(t, f.h, http.MethodGet, "/api/v1/imports"+q, u.AccessToken, nil); res.Code != http.StatusUnprocessableEntity {
			t.Errorf("GET /imports%s = %d, want 422", q, res.Code)
		}
	}
}
