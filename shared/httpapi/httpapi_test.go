package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

type sample struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{"valid", "application/json", `{"name":"a","age":3}`, 0, ""},
		{"valid with charset", "application/json; charset=utf-8", `{"name":"a"}`, 0, ""},
		{"wrong content type", "text/plain", `{"name":"a"}`, 415, "unsupported_media_type"},
		{"no content type", "", `{"name":"a"}`, 415, "unsupported_media_type"},
		{"malformed", "application/json", `{"name":`, 400, "malformed_json"},
		{"not an object", "application/json", `[1,2]`, 400, "malformed_json"},
		{"empty", "application/json", ``, 400, "malformed_json"},
		{"trailing data", "application/json", `{"name":"a"} {"name":"b"}`, 400, "malformed_json"},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 400, "unknown_field"},
		{"wrong type", "application/json", `{"age":"old"}`, 422, "validation_error"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 200) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			var dst sample
			err := DecodeJSON(httptest.NewRecorder(), r, &dst, 100)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v, want nil", tt.body, err)
				}
				return
			}
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != tt.wantStatus || apiErr.Code != tt.wantCode {
				t.Fatalf("DecodeJSON(%q) = %v, want %d %s", tt.body, err, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestFail(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		hidden     string
	}{
		{"api error", NewError(409, "email_taken", "taken"), 409, "email_taken", ""},
		{"not found", fmt.Errorf("get: %w", store.ErrNotFound), 404, "not_found", ""},
		{"conflict", fmt.Errorf("put: %w", store.ErrConflict), 409, "conflict", ""},
		{"unavailable", fmt.Errorf("store: get: %w: %w", outage.ErrUnavailable, errors.New("dial tcp 10.0.0.7:5432: connection refused")), 503, "service_unavailable", "10.0.0.7"},
		{"unavailable, with a reason", fmt.Errorf("auth: login: %w: %w", Unavailable("too many logins at once"), outage.ErrUnavailable), 503, "service_unavailable", ""},
		{"unavailable, a reason alone", Unavailable("the service is starting"), 503, "service_unavailable", ""},
		{"5xx answer with a cause", NewError(500, "entry_unreadable", "unreadable").Wrap(errors.New("entry 42: bad tag")), 500, "entry_unreadable", "42"},
		{"internal", errors.New("pq: relation secret_table does not exist"), 500, "internal_error", "secret_table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Fail(rec, httptest.NewRequest(http.MethodGet, "/", nil), tt.err)
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
			}
			if rec.Code != tt.wantStatus || body["code"] != tt.wantCode || body["detail"] == "" {
				t.Fatalf("Fail(%v) = %d %v, want %d %s", tt.err, rec.Code, body, tt.wantStatus, tt.wantCode)
			}
			if tt.hidden != "" && strings.Contains(rec.Body.String(), tt.hidden) {
				t.Errorf("Fail(%v) leaked %q to the client", tt.err, tt.hidden)
			}
			if got := rec.Header().Get("Retry-After"); (tt.wantStatus == 503) != (got == "5") {
				t.Errorf("Fail(%v) Retry-After = %q, want 5 exactly for a 503", tt.err, got)
			}
		})
	}
}

// TestFailUnavailableDetail: an outage answers the generic detail and is logged with its
// cause; one that names its own reason (httpapi.Unavailable) answers that reason.
func TestFailUnavailableDetail(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantDetail string
		wantLogged string
	}{
		{"a dependency", fmt.Errorf("session: get: %w: %w", outage.ErrUnavailable, errors.New("connection refused")),
			"a dependency is unavailable, try again shortly", "connection refused"},
		{"a reason of its own", fmt.Errorf("auth: login: %w: %w", Unavailable("too many logins at once"), context.DeadlineExceeded),
			"too many logins at once", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			ctx := context.WithValue(context.Background(), loggerKey, slog.New(slog.NewJSONHandler(&logs, nil)))
			rec := httptest.NewRecorder()
			Fail(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx), tt.err)
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Detail != tt.wantDetail {
				t.Errorf("Fail(%v) detail = %q, want %q", tt.err, body.Detail, tt.wantDetail)
			}
			if tt.wantLogged != "" && !strings.Contains(logs.String(), tt.wantLogged) {
				t.Errorf("Fail(%v) logged %q, want the cause %q", tt.err, logs.String(), tt.wantLogged)
			}
		})
	}
}

// TestFailLogsCauseOfServerError: an *Error answered with a 5xx logs the cause it wraps
// (never sent); a 4xx is the client's doing and logs nothing.
func TestFailLogsCauseOfServerError(t *testing.T) {
	var logs strings.Builder
	ctx := context.WithValue(context.Background(), loggerKey, slog.New(slog.NewJSONHandler(&logs, nil)))
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	Fail(httptest.NewRecorder(), r, NewError(500, "entry_unreadable", "unreadable").Wrap(errors.New("entry 42: bad tag")))
	Fail(httptest.NewRecorder(), r, NewError(404, "not_found", "not found").Wrap(errors.New("row 43 missing")))
	if !strings.Contains(logs.String(), "entry 42: bad tag") {
		t.Errorf("logs = %q, want the cause of the 500", logs.String())
	}
	if strings.Contains(logs.String(), "row 43") {
		t.Errorf("logs = %q, want nothing for the 404", logs.String())
	}
}

func TestValidationFields(t *testing.T) {
	rec := httptest.NewRecorder()
	Fail(rec, httptest.NewRequest(http.MethodGet, "/", nil), Invalid(map[string]string{"email": "is not an email"}))
	var body struct {
		Code   string            `json:"code"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 422 || body.Code != "validation_error" || body.Fields["email"] == "" {
		t.Fatalf("Invalid() answered %d %+v, want 422 with fields.email", rec.Code, body)
	}
}

func TestTrimTrailingSlash(t *testing.T) {
	var got string
	h := TrimTrailingSlash(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path }))
	for in, want := range map[string]string{"/api/v1/entries/": "/api/v1/entries", "/": "/", "/a//": "/a", "/a/b": "/a/b"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, in, nil))
		if got != want {
			t.Errorf("TrimTrailingSlash(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestObserveRecoversAndKeepsRequestID(t *testing.T) {
	h := Observe(nil, "test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x?token=secret", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	h.ServeHTTP(rec, req)
	if rec.Code != 500 || rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("Observe(panic) = %d id %q, want 500 id abc-123", rec.Code, rec.Header().Get(RequestIDHeader))
	}
	req = httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set(RequestIDHeader, "bad id\nwith newline")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if id := rec.Header().Get(RequestIDHeader); id == "" || strings.Contains(id, " ") {
		t.Fatalf("Observe kept an unsafe request id %q", id)
	}
}

// TestFailClientGone: a dependency call cut short because the client left is answered
// (and logged) as the client's leaving, not as an outage with Retry-After, even when the
// failing package marked it as one.
func TestFailClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		err  error
	}{
		{"plain", fmt.Errorf("entries: get: %w", context.Canceled)},
		{"wrapped as an outage", fmt.Errorf("session: get: %w: %w", outage.ErrUnavailable, context.Canceled)},
		{"an answer caused by it", NewError(500, "internal_error", "failed").Wrap(context.Canceled)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Fail(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx), tt.err)
			if rec.Code != 499 || rec.Header().Get("Retry-After") != "" {
				t.Fatalf("Fail(%v) after the client left = %d (Retry-After %q), want 499 without Retry-After",
					tt.err, rec.Code, rec.Header().Get("Retry-After"))
			}
		})
	}
	// The same outage while the client waits is a 503.
	rec := httptest.NewRecorder()
	Fail(rec, httptest.NewRequest(http.MethodGet, "/", nil), fmt.Errorf("session: get: %w: %w", outage.ErrUnavailable, errors.New("connection refused")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("Fail(outage) = %d (Retry-After %q), want 503 with Retry-After 5", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestObserveNestedLogsOnce(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	inner := Observe(logger, "entries", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	outer := Observe(logger, "diary", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/in-process" {
			inner.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(404)
	}))
	tests := []struct {
		path        string
		wantService string
	}{
		{"/in-process", "entries"},
		{"/gateway-only", "diary"},
	}
	for _, tt := range tests {
		buf.Reset()
		outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tt.path, nil))
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], `"service":"`+tt.wantService+`"`) {
			t.Errorf("GET %s logged %q, want one line from %s", tt.path, lines, tt.wantService)
		}
	}
}
