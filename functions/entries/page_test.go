package entries

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/testenv"
)

// pagesOf follows a list (since empty) or the sync feed (from since) to its end and
// returns its pages, checking that next_cursor is null only on the last one.
func (h *harness) pagesOf(t *testing.T, u testenv.User, since string, limit int) []pageJSON {
	t.Helper()
	var pages []pageJSON
	cursor := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		switch {
		case since != "" && cursor == "":
			q.Set("updated_since", since)
		case since != "":
			q.Set("updated_since", cursor)
		case cursor != "":
			q.Set("cursor", cursor)
		}
		page := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+q.Encode(), nil))
		pages = append(pages, page)
		if page.NextCursor == nil {
			return pages
		}
		if len(page.Items) == 0 {
			t.Fatalf("page %d (%s) is empty but has a next_cursor", len(pages), q.Encode())
		}
		if len(pages) > 50 {
			t.Fatalf("paging did not end after %d pages", len(pages))
		}
		cursor = *page.NextCursor
	}
}

// pageIDs is the ids of each page's entries.
func pageIDs(pages []pageJSON) [][]string {
	ids := make([][]string, len(pages))
	for i, p := range pages {
		ids[i] = p.ids()
	}
	return ids
}

// occurredBefore is the occurred_at of the i-th entry a test creates: each one an hour
// before the last, so the list (newest occurred_at first) and the feed (oldest change
// first) see them in the order they were created.
func occurredBefore(i int) string {
	return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Hour).Format(time.RFC3339)
}

// TestPageByteBudget checks that a list or feed page ends early once its entries' stored
// bytes would pass ENTRY_PAGE_MAX_BYTES, with a next_cursor that goes on from there: an
// entry larger than the budget comes alone, a page may fill the budget exactly, and
// following the cursors yields every entry once, in order, for the list and the feed.
func TestPageByteBudget(t *testing.T) {
	const budget = 10000
	h := newHarnessConfig(t, Config{PageMaxBytes: budget})
	u := testenv.NewUser(t, h.svc, "e2e")
	// e2e entries store exactly their ciphertext.
	sizes := []int{4000, 6000, 3000, 12000, 3000, 3000, 100}
	var ids []string
	for i, n := range sizes {
		ids = append(ids, h.create(t, u, map[string]any{"ciphertext": randomB64(t, n), "occurred_at": occurredBefore(i)}).ID)
	}
	// What each page must hold, as indexes into sizes.
	byLimit := map[int][][]int{
		100: {{0, 1}, {2}, {3}, {4, 5, 6}},   // 10000 exactly; 3000 (+12000 would pass); 12000 alone; the rest
		2:   {{0, 1}, {2}, {3}, {4, 5}, {6}}, // the count still bounds a page
	}
	for limit, want := range byLimit {
		var wantIDs [][]string
		for _, page := range want {
			var p []string
			for _, i := range page {
				p = append(p, ids[i])
			}
			wantIDs = append(wantIDs, p)
		}
		for _, since := range []string{"", "1970-01-01T00:00:00Z", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)} {
			name := "list"
			if since != "" {
				name = "feed from " + since
			}
			if got := pageIDs(h.pagesOf(t, u, since, limit)); !slices.EqualFunc(got, wantIDs, slices.Equal) {
				t.Errorf("%s, limit %d, budget %d: pages %v, want %v (ids %v)", name, limit, budget, got, wantIDs, ids)
			}
		}
	}

	// A feed that caught up through cut pages resumes after its last entry: a change made
	// since is the one thing the next sync returns.
	_, pos := h.syncAll(t, u, "1970-01-01T00:00:00Z", 100)
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(ids[3]), nil)
	got, _ := h.syncAll(t, u, pos, 100)
	assertChanges(t, "feed after a cut full sync and a delete", got, []feedChange{{ids[3], 2, true}})
}

// TestPageByteBudgetUCE pages through uce entries under a small budget: two entries of
// 3.6 KB fit in 10000 bytes, three do not, and every entry comes once, in order, decrypted.
func TestPageByteBudgetUCE(t *testing.T) {
	h := newHarnessConfig(t, Config{PageMaxBytes: 10000})
	u := testenv.NewUser(t, h.svc, "uce")
	var ids []string
	content := map[string]string{}
	for i := 0; i < 5; i++ {
		text := strings.Repeat(fmt.Sprintf("entry %d; ", i), 400)
		ids = append(ids, h.create(t, u, map[string]any{"title": fmt.Sprint("title ", i), "content": text, "occurred_at": occurredBefore(i)}).ID)
		content[ids[i]] = text
	}
	want := [][]string{ids[0:2], ids[2:4], ids[4:]}
	for _, since := range []string{"", "1970-01-01T00:00:00Z"} {
		pages := h.pagesOf(t, u, since, 100)
		if got := pageIDs(pages); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("paging from %q: pages %v, want %v", since, got, want)
		}
		for _, p := range pages {
			for _, e := range p.Items {
				if deref(e.Content) != content[e.ID] {
					t.Errorf("paging from %q: entry %s content = %.20q..., want %.20q...", since, e.ID, deref(e.Content), content[e.ID])
				}
			}
		}
	}
}

// TestPageDefaultBudget checks the default ENTRY_PAGE_MAX_BYTES (4 MiB) with entries at
// the size limit: four 1 MiB entries fill a page, the fifth comes on the next.
func TestPageDefaultBudget(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, h.create(t, u, map[string]any{"ciphertext": randomB64(t, 1<<20), "occurred_at": occurredBefore(i)}).ID)
	}
	want := [][]string{ids[:4], ids[4:]}
	for _, since := range []string{"", "1970-01-01T00:00:00Z"} {
		if got := pageIDs(h.pagesOf(t, u, since, 100)); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("paging from %q through five 1 MiB entries: pages %v, want %v", since, got, want)
		}
	}
}

// TestWritePageMatchesWriteJSON checks that the page written one item at a time is the
// JSON httpapi.WriteJSON writes for the whole page (HTML characters unescaped alike), and
// that it drops each item once written.
func TestWritePageMatchesWriteJSON(t *testing.T) {
	next, sync := "next", "sync"
	title := "<b>&</b>"
	item := entryView{ID: "1", uceBody: plainBody(&title, "a\x01\n\u2028\"z"), entryMeta: entryMeta{Tags: []string{}}}
	sealed := entryView{ID: "2", e2eBody: &e2eBody{Ciphertext: "AAAA"}, entryMeta: entryMeta{Tags: []string{"x"}}}
	for _, page := range []pageView{
		{Items: []entryView{}},
		{Items: []entryView{item}, pageCursors: pageCursors{NextCursor: &next}},
		{Items: []entryView{item, item}, pageCursors: pageCursors{NextCursor: &next, SyncCursor: &sync}},
		{Items: []entryView{sealed}, pageCursors: pageCursors{SyncCursor: &sync}},
	} {
		want := httptest.NewRecorder()
		httpapi.WriteJSON(want, http.StatusOK, page)
		got := httptest.NewRecorder()
		items := slices.Clone(page.Items)
		writePage(got, pageView{Items: items, pageCursors: page.pageCursors})
		for i, v := range items {
			if v.uceBody != nil || v.e2eBody != nil {
				t.Errorf("writePage kept item %d after writing it", i)
			}
		}
		var g, w bytes.Buffer
		if err := json.Compact(&g, got.Body.Bytes()); err != nil {
			t.Fatalf("writePage wrote %q: %v", got.Body, err)
		}
		if err := json.Compact(&w, want.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
		if g.String() != w.String() || got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("writePage = %d %q %s, want %d %q %s", got.Code, got.Header().Get("Content-Type"), g.String(), want.Code, want.Header().Get("Content-Type"), w.String())
		}
	}
}
