// Package httpapitest holds what the functions' fuzz targets share to drive a handler's
// decode and validation step the way the handler does, and to check a refusal is the
// client error the API promises: httpapi.DecodeJSON with the handler's limit on a body,
// and httpapi.Fail's answer to an error.
package httpapitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xmojo/diary/shared/httpapi"
)

// Decode runs body through httpapi.DecodeJSON into dst with the limit a handler passes,
// as a request with Content-Type application/json.
func Decode(body []byte, dst any, limit int64) error {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return httpapi.DecodeJSON(httptest.NewRecorder(), r, dst, limit)
}

// WantClientError fails t unless err is one of the API's typed errors (an *httpapi.Error)
// that httpapi.Fail answers with a 4xx status in the error shape {"detail","code"}: what a
// handler would send for the input, never a 500. what names the input in the message.
func WantClientError(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want a client error", what)
	}
	if _, ok := err.(*httpapi.Error); !ok {
		t.Fatalf("%s = %T %v, want an *httpapi.Error", what, err, err)
	}
	w := httptest.NewRecorder()
	httpapi.Fail(w, httptest.NewRequest(http.MethodPost, "/", nil), err)
	var body struct {
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if w.Code < 400 || w.Code > 499 || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Code == "" || body.Detail == "" {
		t.Fatalf("%s: Fail(%v) answered %d %s, want a 4xx in the error shape", what, err, w.Code, w.Body.Bytes())
	}
}

// DecodeValid decodes body into a new T as Decode does, then runs validate on it: a
// handler's decode and validation steps, for a request whose validation returns only an
// error.
func DecodeValid[T any](body []byte, limit int64, validate func(*T) error) (*T, error) {
	req := new(T)
	if err := Decode(body, req, limit); err != nil {
		return nil, err
	}
	if err := validate(req); err != nil {
		return nil, err
	}
	return req, nil
}
