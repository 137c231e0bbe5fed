package testenv

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// badPageQueries are page requests every list refuses alike (keyset.ParsePage): the
// query, the field at fault and the message it gets. The messages are written out here,
// not taken from keyset, so a change in what clients see shows up as a failing test.
var badPageQueries = []struct {
	query, field, message string
	cursor                bool
}{
	{"limit=0", "limit", "must be an integer from 1 to 100", false},
	{"limit=101", "limit", "must be an integer from 1 to 100", false},
	{"limit=abc", "limit", "must be an integer from 1 to 100", false},
	{"limit=", "limit", "must be an integer from 1 to 100", false},
	{"cursor=bm90LWEtY3Vyc29y", "cursor", "is not a cursor from an earlier page of this list", true},
	{"cursor=!!!", "cursor", "is not a cursor from an earlier page of this list", true},
	{"cursor=", "cursor", "is not a cursor from an earlier page of this list", true},
}

// WantPageRefusals sends a list each bad page request and wants the one answer every list
// gives: 422 validation_error whose fields name that parameter alone, with its message.
// list is the list's path, with a query of its own or none; cursor false leaves out the
// cursor cases, for a list whose position comes in a parameter of its own (the entries'
// sync feed).
func WantPageRefusals(t *testing.T, h http.Handler, accessToken, list string, cursor bool) {
	t.Helper()
	sep := "?"
	if strings.Contains(list, "?") {
		sep = "&"
	}
	for _, tt := range badPageQueries {
		if tt.cursor && !cursor {
			continue
		}
		path := list + sep + tt.query
		resp := Do(t, h, http.MethodGet, path, accessToken, nil)
		var e struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(resp.Body.Bytes(), &e); err != nil {
			t.Errorf("GET %s = %d %q: %v", path, resp.Code, resp.Body, err)
			continue
		}
		want := map[string]string{tt.field: tt.message}
		if resp.Code != http.StatusUnprocessableEntity || e.Code != "validation_error" || !maps.Equal(e.Fields, want) {
			t.Errorf("GET %s = %d %s, want 422 validation_error with fields %v", path, resp.Code, resp.Body, want)
		}
	}
}
