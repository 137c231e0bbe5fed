package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMatchesETag(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		etag   string
		weak   bool
		want   bool
	}{
		{"absent", nil, `"3"`, true, false},
		{"same", []string{`"3"`}, `"3"`, true, true},
		{"other", []string{`"4"`}, `"3"`, true, false},
		{"in a list", []string{`"1", "2" ,"3"`}, `"3"`, true, true},
		{"on a second line", []string{`"1"`, `"3"`}, `"3"`, true, true},
		{"star", []string{`*`}, `"3"`, true, true},
		{"star in a list", []string{`"1", *`}, `"3"`, true, true},
		{"not a star", []string{`*3`}, `"3"`, true, false},
		{"weak tag, weak comparison", []string{`W/"3"`}, `"3"`, true, true},
		{"weak tag, strong comparison", []string{`W/"3"`}, `"3"`, false, false},
		{"weak current tag, strong comparison", []string{`"3"`}, `W/"3"`, false, false},
		{"strong comparison", []string{`"3"`}, `"3"`, false, true},
		{"a comma inside a tag", []string{`"3,4"`}, `"3"`, true, false},
		{"unquoted", []string{`3`}, `"3"`, true, false},
		{"unterminated", []string{`"3`}, `"3"`, true, false},
		{"lower-case weak prefix", []string{`w/"3"`}, `"3"`, true, false},
		{"after garbage", []string{`junk, "3"`}, `"3"`, true, false},
		{"before garbage", []string{`"3", junk`}, `"3"`, true, true},
		{"quotes are part of the tag", []string{`"3"`}, `3`, true, false},
		{"empty tag", []string{`""`}, `""`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchesETag(tt.values, tt.etag, tt.weak); got != tt.want {
				t.Errorf("MatchesETag(%q, %s, weak %v) = %v, want %v", tt.values, tt.etag, tt.weak, got, tt.want)
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	tests := []struct {
		method, ifNoneMatch string
		want                bool
	}{
		{http.MethodGet, `"3"`, true},
		{http.MethodHead, `W/"3"`, true},
		{http.MethodGet, `"2"`, false},
		{http.MethodGet, "", false},
		{http.MethodPost, `"3"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.ifNoneMatch, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", nil)
			if tt.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			got := NotModified(rec, r, `"3"`)
			if got != tt.want {
				t.Fatalf("NotModified(%s, If-None-Match %s) = %v, want %v", tt.method, tt.ifNoneMatch, got, tt.want)
			}
			if !got {
				if rec.Header().Get("ETag") != "" || rec.Body.Len() != 0 {
					t.Errorf("NotModified() = false wrote headers or a body: %v %q", rec.Header(), rec.Body)
				}
				return
			}
			if rec.Code != http.StatusNotModified || rec.Header().Get("ETag") != `"3"` || rec.Body.Len() != 0 {
				t.Errorf("NotModified() wrote %d ETag %q body %q, want 304 with ETag \"3\" and no body", rec.Code, rec.Header().Get("ETag"), rec.Body)
			}
		})
	}
}
