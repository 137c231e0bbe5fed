package entries

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/testenv"
)

// TestListFilters checks the order, the filters and the limit of the list, for both tiers.
func TestListFilters(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			mk := func(day int, mood string, tags []string, source string) string {
				extra := map[string]any{"occurred_at": fmt.Sprintf("2024-03-%02dT12:00:00Z", day), "tags": tags}
				if mood != "" {
					extra["mood"] = mood
				}
				if source != "" {
					extra["source"] = source
				}
				return h.create(t, u, body(t, u, fmt.Sprintf("day %d", day), extra)).ID
			}
			d1 := mk(1, "happy", []string{"work"}, "")
			d2 := mk(2, "sad", []string{"work", "family"}, "facebook")
			d3 := mk(3, "happy", []string{"family"}, "")
			d4 := mk(4, "", nil, "")
			h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(d4), nil)

			tests := []struct {
				query string
				want  []string
			}{
				{"", []string{d3, d2, d1}},
				{"limit=2", []string{d3, d2}},
				{"mood=happy", []string{d3, d1}},
				{"source=facebook", []string{d2}},
				{"source=app", []string{d3, d1}},
				{"tag=work", []string{d2, d1}},
				{"tag=Family", []string{d3, d2}},
				{"tag=work&tag=family", []string{d2}},
				{"tag=nothing", nil},
				{"from=2024-03-02", []string{d3, d2}},
				{"to=2024-03-02", []string{d2, d1}},
				{"from=2024-03-02T12:00:00Z&to=2024-03-02T12:00:00Z", []string{d2}},
				{"from=2024-03-01T12:00:01Z&to=2024-03-03T11:00:00Z", []string{d2}},
				{"include_deleted=true", []string{d4, d3, d2, d1}},
				{"include_deleted=false", []string{d3, d2, d1}},
			}
			for _, tt := range tests {
				res := h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+tt.query, nil)
				page := decodeJSON[pageJSON](t, res)
				if got := page.ids(); !slices.Equal(got, tt.want) {
					t.Errorf("List(%q) = %v, want %v", tt.query, got, tt.want)
				}
				if page.SyncCursor != nil {
					t.Errorf("List(%q) has a sync_cursor, want none outside the feed", tt.query)
				}
			}
		})
	}
}

// TestListRejects checks that bad query values answer 422 with the field at fault.
func TestListRejects(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	for i := 0; i < 3; i++ {
		h.create(t, u, body(t, u, "", nil))
	}
	first := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?limit=1", nil))
	if first.NextCursor == nil {
		t.Fatal("List(limit=1) of 3 entries has no next_cursor")
	}
	feed := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z&limit=1", nil))
	tampered := []byte(*first.NextCursor)
	tampered[3] ^= 1
	tests := []struct{ query, field string }{
		{"cursor=" + string(tampered), "cursor"},
		{"cursor=" + *feed.NextCursor, "cursor"}, // a feed cursor is not a list cursor
		{"source=myspace", "source"},
		// No stored mood holds these, and PostgreSQL refuses them as text: once a 500.
		{"mood=a%00b", "mood"},
		{"mood=%ff", "mood"},
		{"from=March", "from"},
		{"to=2024-13-01", "to"},
		{"from=2024-03-02&to=2024-03-01", "to"},
		{"include_deleted=maybe", "include_deleted"},
		{"updated_since=yesterday", "updated_since"},
		{"updated_since=2024-01-01T00:00:00", "updated_since"},
		{"updated_since=" + *first.NextCursor, "updated_since"}, // a list cursor is not a feed cursor
		{"updated_since=1970-01-01T00:00:00Z&mood=happy", "mood"},
		{"updated_since=1970-01-01T00:00:00Z&limit=500", "limit"},
	}
	for _, tt := range tests {
		res := h.do(t, u, "GET", "/api/v1/entries?"+tt.query, nil)
		if res.Code != http.StatusUnprocessableEntity {
			t.Errorf("List(%q) = %d %s, want 422", tt.query, res.Code, res.Body)
			continue
		}
		if e := decodeJSON[errorJSON](t, res); e.Fields[tt.field] == "" {
			t.Errorf("List(%q) fields = %v, want a message for %q", tt.query, e.Fields, tt.field)
		}
	}
	// limit and cursor are refused as by every list (media, jobs), with the same messages.
	testenv.WantPageRefusals(t, h.h, u.AccessToken, "/api/v1/entries", true)
	testenv.WantPageRefusals(t, h.h, u.AccessToken, "/api/v1/entries?mood=calm", true)
	testenv.WantPageRefusals(t, h.h, u.AccessToken, "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", false)
}

// TestListLimits checks the default and the bounds of limit and next_cursor on the last page.
func TestListLimits(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	for i := 0; i < 21; i++ {
		h.create(t, u, body(t, u, "", nil))
	}
	tests := []struct {
		query    string
		items    int
		lastPage bool
	}{
		{"", 20, false},
		{"limit=1", 1, false},
		{"limit=21", 21, true},
		{"limit=100", 21, true},
	}
	for _, tt := range tests {
		page := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+tt.query, nil))
		if len(page.Items) != tt.items || (page.NextCursor == nil) != tt.lastPage {
			t.Errorf("List(%q) = %d items, next_cursor %v, want %d items, last page %v", tt.query, len(page.Items), page.NextCursor, tt.items, tt.lastPage)
		}
	}
}

// TestPagingWhileInserting pages through 250 entries, 10 at a time, while other entries
// are inserted all over the same time range: no entry comes twice and none of the 250 is
// skipped.
func TestPagingWhileInserting(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	existing := map[string]bool{}
	for i := 0; i < 250; i++ {
		// Groups of five share an occurred_at, so the id breaks ties.
		at := base.Add(time.Duration(i/5) * time.Hour)
		e := h.create(t, u, map[string]any{"content": fmt.Sprintf("entry %d", i), "occurred_at": at.Format(time.RFC3339)})
		existing[e.ID] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var inserted sync.Map
	// Paging waits after its first page until a writer has inserted (or given up), so
	// inserts happen while it pages however the goroutines are scheduled.
	wrote := make(chan struct{})
	var once sync.Once
	signal := func() { once.Do(func() { close(wrote) }) }
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer signal()
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				at := base.Add(time.Duration((i*7+w*13)%60) * time.Hour)
				res := h.do(t, u, "POST", "/api/v1/entries", map[string]any{"content": "late", "occurred_at": at.Format(time.RFC3339)})
				if res.Code != http.StatusCreated {
					t.Errorf("concurrent Create = %d %s, want 201", res.Code, res.Body)
					return
				}
				var e entryJSON
				if err := json.Unmarshal(res.Body.Bytes(), &e); err != nil {
					t.Errorf("concurrent Create body %q: %v", res.Body, err)
					return
				}
				inserted.Store(e.ID, true)
				signal()
			}
		}()
	}

	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		q := url.Values{"limit": {"10"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+q.Encode(), nil))
		pages++
		if pages == 1 {
			<-wrote
		}
		for _, e := range page.Items {
			if seen[e.ID] {
				t.Errorf("paging returned entry %s twice", e.ID)
			}
			seen[e.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
		time.Sleep(2 * time.Millisecond) // let the writers interleave
	}
	close(stop)
	wg.Wait()
	for id := range existing {
		if !seen[id] {
			t.Errorf("paging skipped entry %s that existed when it started", id)
		}
	}
	late := 0
	inserted.Range(func(k, _ any) bool {
		late++
		return true
	})
	if pages < 25 || late == 0 {
		t.Errorf("paging took %d pages with %d concurrent inserts, want at least 25 pages and some inserts", pages, late)
	}
}
