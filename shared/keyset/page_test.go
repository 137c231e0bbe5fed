package keyset

import (
	"net/url"
	"testing"
	"time"
)

func TestParsePage(t *testing.T) {
	pos := Position{At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ID: "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d"}
	cursor := pos.Encode("m1")
	tests := []struct {
		query      string
		wantLimit  int
		wantAfter  *Position
		wantFields map[string]string
	}{
		{"", DefaultLimit, nil, nil},
		{"limit=1", 1, nil, nil},
		{"limit=100", 100, nil, nil},
		{"limit=7&cursor=" + cursor, 7, &pos, nil},
		{"limit=0", 0, nil, map[string]string{"limit": limitMessage}},
		{"limit=101", 0, nil, map[string]string{"limit": limitMessage}},
		{"limit=-1", 0, nil, map[string]string{"limit": limitMessage}},
		{"limit=abc", 0, nil, map[string]string{"limit": limitMessage}},
		{"limit=1.5", 0, nil, map[string]string{"limit": limitMessage}},
		{"limit=", 0, nil, map[string]string{"limit": limitMessage}},
		{"cursor=", 0, nil, map[string]string{"cursor": cursorMessage}},
		{"cursor=!!!", 0, nil, map[string]string{"cursor": cursorMessage}},
		{"cursor=" + pos.Encode("j1"), 0, nil, map[string]string{"cursor": cursorMessage}}, // another list's
		{"limit=&cursor=zzz", 0, nil, map[string]string{"limit": limitMessage, "cursor": cursorMessage}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			fields := map[string]string{}
			got := ParsePage(q, "m1", fields)
			if len(fields) != len(tt.wantFields) {
				t.Fatalf("ParsePage(%q) fields = %v, want %v", tt.query, fields, tt.wantFields)
			}
			for k, v := range tt.wantFields {
				if fields[k] != v {
					t.Errorf("ParsePage(%q) fields[%s] = %q, want %q", tt.query, k, fields[k], v)
				}
			}
			if tt.wantFields != nil {
				return
			}
			if got.Limit != tt.wantLimit {
				t.Errorf("ParsePage(%q).Limit = %d, want %d", tt.query, got.Limit, tt.wantLimit)
			}
			if (got.After == nil) != (tt.wantAfter == nil) || got.After != nil && (!got.After.At.Equal(tt.wantAfter.At) || got.After.ID != tt.wantAfter.ID) {
				t.Errorf("ParsePage(%q).After = %v, want %v", tt.query, got.After, tt.wantAfter)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		query   string
		want    int
		wantBad bool
	}{
		{"", DefaultLimit, false},
		{"limit=42", 42, false},
		{"limit=", 0, true},
		{"limit=0", 0, true},
		{"limit=1000", 0, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		fields := map[string]string{}
		got := ParseLimit(q, fields)
		if bad := fields["limit"] != ""; bad != tt.wantBad || !bad && got != tt.want {
			t.Errorf("ParseLimit(%q) = %d, fields %v; want %d, invalid %v", tt.query, got, fields, tt.want, tt.wantBad)
		}
	}
}
