package testenv

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// recordingTB collects what checkAgainstAPI reports, so its verdicts can be tested.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckAgainstAPI(t *testing.T) {
	const job = "/api/v1/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7"
	notFound := `{"detail":"no such job","code":"not_found"}`
	tests := []struct {
		name, method, path, reqBody string
		status                      int
		respBody                    string
		wantError                   string // "" when the exchange matches the document
	}{
		{"documented error answer", "GET", job, "", 404, notFound, ""},
		{"undocumented status", "GET", job, "", 418, notFound, "status is not supported"},
		{"answer missing required fields", "GET", job, "", 200, `{"id":"x"}`, "does not match"},
		{"answer of the wrong type", "GET", job, "", 404, `[]`, "does not match"},
		{"refused request answered 2xx", "POST", "/api/v1/entries", `{"content":"x","tags":5}`, 201, `{}`, "refuses the request"},
		{"refused request answered 4xx", "POST", "/api/v1/entries", `{"content":"x","tags":5}`, 422, `{"detail":"bad","code":"validation_error"}`, ""},
		{"path not in the document", "GET", "/api/v1/nowhere", "", 404, `{}`, ""},
		{"not an API path", "GET", "/health", "", 200, `{"status":"ok"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.reqBody))
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer x")
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(tt.status)
			rec.WriteString(tt.respBody)
			tb := &recordingTB{TB: t}
			checkAgainstAPI(tb, req, []byte(tt.reqBody), rec)
			got := strings.Join(tb.errors, "\n")
			switch {
			case tt.wantError == "" && got != "":
				t.Errorf("reported %q, want nothing", got)
			case tt.wantError != "" && !strings.Contains(got, tt.wantError):
				t.Errorf("reported %q, want %q", got, tt.wantError)
			}
		})
	}
}

// TestNotTheAPI: a test marked NotTheAPI, and its subtests, are not checked; its sibling
// tests are, and the mark ends with the test.
func TestNotTheAPI(t *testing.T) {
	undocumented := func(t testing.TB) []string {
		req := httptest.NewRequest("GET", "/api/v1/jobs/7c9e6679-7425-40de-944b-e07fc1f90ae7", nil)
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(418)
		rec.WriteString(`{"detail":"a stub","code":"stub"}`)
		tb := &recordingTB{TB: t}
		checkAgainstAPI(tb, req, nil, rec)
		return tb.errors
	}
	t.Run("marked", func(t *testing.T) {
		NotTheAPI(t)
		if got := undocumented(t); len(got) != 0 {
			t.Errorf("a marked test was checked: %q", got)
		}
		t.Run("its subtest", func(t *testing.T) {
			if got := undocumented(t); len(got) != 0 {
				t.Errorf("a marked test's subtest was checked: %q", got)
			}
		})
	})
	t.Run("marked too", func(t *testing.T) {
		NotTheAPI(t)
	})
	t.Run("marked_sibling", func(t *testing.T) {
		if got := undocumented(t); len(got) == 0 {
			t.Errorf("a test whose sibling was marked was not checked")
		}
	})
	if got := undocumented(t); len(got) == 0 {
		t.Errorf("the parent of marked tests was not checked")
	}
	if _, left := notTheAPI.Load(t.Name() + "/marked"); left {
		t.Errorf("the mark outlived its test")
	}
}
