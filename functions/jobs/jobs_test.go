package jobs_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/functions/jobs"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

type jobBody struct {
	ID         string         `json:"id"`
	Kind       string         `json:"kind"`
	Status     string         `json:"status"`
	Progress   int            `json:"progress"`
	Error      *string        `json:"error"`
	Result     map[string]int `json:"result"`
	CreatedAt  string         `json:"created_at"`
	FinishedAt *string        `json:"finished_at"`
}

type pageBody struct {
	Items      []jobBody `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// insertJob writes a job row the way a worker does. userID "" makes a system job.
func insertJob(t *testing.T, svc *platform.Services, userID, parentID, kind, status string, createdAt time.Time) string {
	t.Helper()
	id := uuid.NewString()
	var user, parent, finished, errMsg any
	if userID != "" {
		user = userID
	}
	if parentID != "" {
		parent = parentID
	}
	progress := 40
	if status == "succeeded" || status == "failed" {
		finished = createdAt.Add(time.Minute)
		progress = 100
	}
	if status == "failed" {
		errMsg = "the import could not reach Facebook"
	}
	_, err := svc.DB.Exec(context.Background(), `
		INSERT INTO jobs (id, user_id, parent_id, kind, status, progress, error, result, created_at, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '{"entries_purged": 2}', $8, $8, $9)`,
		id, user, parent, kind, status, progress, errMsg, createdAt, finished)
	if err != nil {
		t.Fatalf("insert job: %v", err)
	}
	return id
}

func TestGetJob(t *testing.T) {
	svc := testenv.Services(t)
	h := http.HandlerFunc(jobs.NewWithServices(svc, nil).Handle)
	alice, bob := testenv.NewUser(t, svc, "uce"), testenv.NewUser(t, svc, "e2e")
	now := time.Now().UTC().Truncate(time.Microsecond)
	run := insertJob(t, svc, "", "", "cleanup", "succeeded", now)
	aliceCleanup := insertJob(t, svc, alice.ID, run, "cleanup", "succeeded", now)
	aliceRunning := insertJob(t, svc, alice.ID, "", "search_index", "running", now)
	aliceFailed := insertJob(t, svc, alice.ID, "", "facebook_pull", "failed", now)
	bobs := insertJob(t, svc, bob.ID, run, "cleanup", "succeeded", now)

	tests := []struct {
		name       string
		token, id  string
		wantStatus int
		wantJob    jobBody
	}{
		{"own finished cleanup", alice.AccessToken, aliceCleanup, http.StatusOK,
			jobBody{Kind: "cleanup", Status: "succeeded", Progress: 100, Result: map[string]int{"entries_purged": 2}}},
		{"own running job", alice.AccessToken, aliceRunning, http.StatusOK, jobBody{Kind: "search_index", Status: "running", Progress: 40}},
		{"own failed job", alice.AccessToken, aliceFailed, http.StatusOK, jobBody{Kind: "facebook_pull", Status: "failed", Progress: 100}},
		{"another user's job", alice.AccessToken, bobs, http.StatusNotFound, jobBody{}},
		{"the system run", alice.AccessToken, run, http.StatusNotFound, jobBody{}},
		{"unknown id", alice.AccessToken, uuid.NewString(), http.StatusNotFound, jobBody{}},
		{"not a uuid", alice.AccessToken, "not-a-uuid", http.StatusNotFound, jobBody{}},
		{"not authenticated", "", aliceCleanup, http.StatusUnauthorized, jobBody{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := testenv.Do(t, h, http.MethodGet, "/api/v1/jobs/"+tt.id, tt.token, nil)
			if resp.Code != tt.wantStatus {
				t.Fatalf("GET /api/v1/jobs/%s = %d %s, want %d", tt.id, resp.Code, resp.Body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusOK {
				var e struct{ Code, Detail string }
				resp.JSON(t, &e)
				if e.Code == "" || e.Detail == "" {
					t.Errorf("error body = %s, want {detail, code}", resp.Body)
				}
				return
			}
			var got jobBody
			resp.JSON(t, &got)
			if got.ID != tt.id || got.Kind != tt.wantJob.Kind || got.Status != tt.wantJob.Status || got.Progress != tt.wantJob.Progress {
				t.Errorf("job = %+v, want id %s, %+v", got, tt.id, tt.wantJob)
			}
			if created, err := time.Parse(time.RFC3339Nano, got.CreatedAt); err != nil || !created.Equal(now) {
				t.Errorf("created_at = %q, want %v in RFC 3339", got.CreatedAt, now)
			}
			finished := got.Status == "succeeded" || got.Status == "failed"
			if (got.FinishedAt != nil) != finished {
				t.Errorf("finished_at = %v for status %s", got.FinishedAt, got.Status)
			}
			if (got.Error != nil) != (got.Status == "failed") {
				t.Errorf("error = %v for status %s", got.Error, got.Status)
			}
			if tt.wantJob.Result != nil && got.Result["entries_purged"] != tt.wantJob.Result["entries_purged"] {
				t.Errorf("result = %v, want %v", got.Result, tt.wantJob.Result)
			}
		})
	}
	// The trailing slash the contract allows.
	if resp := testenv.Do(t, h, http.MethodGet, "/api/v1/jobs/"+aliceCleanup+"/", alice.AccessToken, nil); resp.Code != http.StatusOK {
		t.Errorf("GET with a trailing slash = %d, want 200", resp.Code)
	}
	if resp := testenv.Do(t, h, http.MethodDelete, "/api/v1/jobs/"+aliceCleanup, alice.AccessToken, nil); resp.Code != http.StatusMethodNotAllowed || resp.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE /api/v1/jobs/{id} = %d Allow %q, want 405 Allow GET, HEAD", resp.Code, resp.Header().Get("Allow"))
	}
}

func TestListJobs(t *testing.T) {
	svc := testenv.Services(t)
	h := http.HandlerFunc(jobs.NewWithServices(svc, nil).Handle)
	alice, bob := testenv.NewUser(t, svc, "e2e"), testenv.NewUser(t, svc, "e2e")
	base := time.Now().UTC().Add(-time.Hour)
	var want []string // newest first
	for i := range 5 {
		kind := "cleanup"
		if i%2 == 1 {
			kind = "search_index"
		}
		want = append([]string{insertJob(t, svc, alice.ID, "", kind, "succeeded", base.Add(time.Duration(i)*time.Minute))}, want...)
	}
	insertJob(t, svc, bob.ID, "", "cleanup", "succeeded", base)

	// Page through two at a time.
	var got []string
	path := "/api/v1/jobs?limit=2"
	for pages := 0; pages < 10; pages++ {
		resp := testenv.Do(t, h, http.MethodGet, path, alice.AccessToken, nil)
		if resp.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.Code, resp.Body)
		}
		var page pageBody
		resp.JSON(t, &page)
		for _, j := range page.Items {
			got = append(got, j.ID)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/jobs?limit=2&cursor=" + *page.NextCursor
	}
	if len(got) != len(want) {
		t.Fatalf("listed %v, want alice's %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("listed %v, want newest first %v", got, want)
		}
	}

	resp := testenv.Do(t, h, http.MethodGet, "/api/v1/jobs?kind=cleanup", alice.AccessToken, nil)
	var page pageBody
	resp.JSON(t, &page)
	if len(page.Items) != 3 || page.NextCursor != nil {
		t.Errorf("kind=cleanup listed %d items (next %v), want alice's 3", len(page.Items), page.NextCursor)
	}
	for _, j := range page.Items {
		if j.Kind != "cleanup" {
			t.Errorf("kind=cleanup listed a %s job", j.Kind)
		}
	}

	if resp := testenv.Do(t, h, http.MethodGet, "/api/v1/jobs?kind=Bad-Kind", alice.AccessToken, nil); resp.Code != http.StatusUnprocessableEntity {
		t.Errorf("GET /api/v1/jobs?kind=Bad-Kind = %d, want 422", resp.Code)
	}
	// limit and cursor are refused as by every list, "limit=" and "cursor=" included
	// (they were taken as the defaults).
	testenv.WantPageRefusals(t, h, alice.AccessToken, "/api/v1/jobs", true)
	testenv.WantPageRefusals(t, h, alice.AccessToken, "/api/v1/jobs?kind=cleanup", true)
}
