package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStatusRecorder: the first status is the one recorded (200 for a bare Write), bytes
// add up, the hook runs once before the headers leave, and Unwrap reaches the writer.
func TestStatusRecorder(t *testing.T) {
	tests := []struct {
		name       string
		write      func(w http.ResponseWriter)
		wantStatus int
		wantBytes  int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0, 0},
		{"status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotModified) }, http.StatusNotModified, 0},
		{"body alone", func(w http.ResponseWriter) { w.Write([]byte("abc")); w.Write([]byte("de")) }, http.StatusOK, 5},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated); w.Write([]byte("x")) }, http.StatusCreated, 1},
		{"status twice", func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted); w.WriteHeader(http.StatusTeapot) }, http.StatusAccepted, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			under := httptest.NewRecorder()
			calls := 0
			rec := NewStatusRecorder(under)
			rec.beforeHeaders = func(h http.Header) { calls++; h.Set("X-Hook", "ran") }
			tt.write(rec)
			if rec.Status() != tt.wantStatus || rec.Bytes() != tt.wantBytes {
				t.Errorf("Status(), Bytes() = %d, %d, want %d, %d", rec.Status(), rec.Bytes(), tt.wantStatus, tt.wantBytes)
			}
			if want := min(tt.wantStatus, 1); calls != want || (calls == 1 && under.Header().Get("X-Hook") != "ran") {
				t.Errorf("hook ran %d times (header %q), want %d, before the headers", calls, under.Header().Get("X-Hook"), want)
			}
			if rec.Unwrap() != under {
				t.Errorf("Unwrap() is not the writer underneath")
			}
		})
	}
}
