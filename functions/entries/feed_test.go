package entries

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/testenv"
)

// feedChange is an entry as the feed reports it, reduced to what a sync client keeps.
type feedChange struct {
	id      string
	version int
	deleted bool
}

// syncAll follows the feed from since until it is caught up and returns the changes in
// order and the position to resume from.
func (h *harness) syncAll(t *testing.T, u testenv.User, since string, limit int) ([]feedChange, string) {
	t.Helper()
	var changes []feedChange
	for {
		q := url.Values{"updated_since": {since}, "limit": {fmt.Sprint(limit)}}
		page := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+q.Encode(), nil))
		if page.SyncCursor == nil {
			t.Fatalf("feed page has no sync_cursor")
		}
		for _, e := range page.Items {
			changes = append(changes, feedChange{e.ID, e.Version, e.DeletedAt != nil})
		}
		since = *page.SyncCursor
		if page.NextCursor == nil {
			return changes, since
		}
		if *page.NextCursor != *page.SyncCursor {
			t.Fatalf("feed next_cursor %q differs from sync_cursor %q mid-feed", *page.NextCursor, *page.SyncCursor)
		}
	}
}

// TestFeedReplaysDeletesAndRestores follows the feed step by step as a client that syncs
// between changes would, for both tiers.
func TestFeedReplaysDeletesAndRestores(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
			a := h.create(t, u, body(t, u, "a", nil))
			b := h.create(t, u, body(t, u, "b", nil))

			got, pos := h.syncAll(t, u, start, 1)
			assertChanges(t, "feed from a time", got, []feedChange{{a.ID, 1, false}, {b.ID, 1, false}})

			again, samePos := h.syncAll(t, u, pos, 10)
			assertChanges(t, "feed when caught up", again, nil)
			if samePos != pos {
				t.Errorf("feed when caught up moved the position from %q to %q", pos, samePos)
			}

			h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(a.ID), nil)
			got, pos = h.syncAll(t, u, pos, 10)
			assertChanges(t, "feed after a delete", got, []feedChange{{a.ID, 2, true}})

			h.mustStatus(t, u, http.StatusOK, "POST", entryPath(a.ID)+"/restore", nil)
			h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(b.ID), nil)
			got, pos = h.syncAll(t, u, pos, 1)
			assertChanges(t, "feed after a restore and a delete", got, []feedChange{{a.ID, 3, false}, {b.ID, 2, true}})

			h.mustStatus(t, u, http.StatusOK, "POST", entryPath(b.ID)+"/restore", nil)
			h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(a.ID), nil)
			got, _ = h.syncAll(t, u, pos, 10)
			assertChanges(t, "feed after a restore and a delete", got, []feedChange{{b.ID, 3, false}, {a.ID, 4, true}})

			// A client starting from scratch gets every entry once, tombstones included, in
			// the order of their last change.
			got, _ = h.syncAll(t, u, "1970-01-01T00:00:00Z", 1)
			assertChanges(t, "full feed", got, []feedChange{{b.ID, 3, false}, {a.ID, 4, true}})

			// A time after every change yields nothing, and a position that still sees the
			// next change.
			got, pos = h.syncAll(t, u, time.Now().UTC().Add(time.Hour).Format(time.RFC3339), 10)
			assertChanges(t, "feed from the future", got, nil)
			c := h.create(t, u, body(t, u, "c", nil))
			got, _ = h.syncAll(t, u, pos, 10)
			assertChanges(t, "feed after the future", got, []feedChange{{c.ID, 1, false}})
		})
	}
}

func assertChanges(t *testing.T, what string, got, want []feedChange) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}

// TestFeedUnderConcurrentWrites runs writers that create, update, delete and restore while
// a client follows the feed. The client never sees an entry go back to an older version,
// never gets the same change twice, and once caught up holds exactly what the database
// holds.
func TestFeedUnderConcurrentWrites(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)

	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var mine []string
			for i := 0; i < 40; i++ {
				if len(mine) == 0 || rng.IntN(3) == 0 {
					res := h.do(t, u, "POST", "/api/v1/entries", map[string]any{"ciphertext": "AAAA"})
					var e entryJSON
					if res.Code != http.StatusCreated || json.Unmarshal(res.Body.Bytes(), &e) != nil {
						t.Errorf("concurrent Create = %d %s", res.Code, res.Body)
						return
					}
					mine = append(mine, e.ID)
					continue
				}
				id := mine[rng.IntN(len(mine))]
				switch rng.IntN(3) {
				case 0:
					h.do(t, u, "PUT", entryPath(id), map[string]any{"ciphertext": "AAAB"})
				case 1:
					h.do(t, u, "DELETE", entryPath(id), nil)
				case 2:
					h.do(t, u, "POST", entryPath(id)+"/restore", nil)
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()

	state := map[string]feedChange{}
	seen := map[feedChange]bool{}
	pos := start
	apply := func(changes []feedChange) {
		for _, c := range changes {
			if seen[c] {
				t.Errorf("feed repeated change %v", c)
			}
			seen[c] = true
			if prev, ok := state[c.id]; ok && prev.version >= c.version {
				t.Errorf("feed went from %v back to %v", prev, c)
			}
			state[c.id] = c
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		changes, next := h.syncAll(t, u, pos, 7)
		apply(changes)
		pos = next
	}
	changes, _ := h.syncAll(t, u, pos, 7)
	apply(changes)

	rows, err := h.svc.DB.Query(t.Context(), `SELECT id::text, version, deleted_at IS NOT NULL FROM entries WHERE user_id = $1`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]feedChange{}
	for rows.Next() {
		var c feedChange
		if err := rows.Scan(&c.id, &c.version, &c.deleted); err != nil {
			t.Fatal(err)
		}
		want[c.id] = c
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(want) == 0 {
		t.Fatal("the writers wrote nothing")
	}
	for id, w := range want {
		if state[id] != w {
			t.Errorf("client's copy of %s = %v, database holds %v", id, state[id], w)
		}
	}
	if len(state) != len(want) {
		t.Errorf("client holds %d entries, database %d", len(state), len(want))
	}
}

// TestFeedPositionExpires checks that a feed position older than the retention of
// tombstones answers 410 sync_expired in the error shape, whether it is a cursor (by the
// time it was issued) or an RFC 3339 time: a delete after it may have been purged. A
// younger position still answers, and a sync from the beginning (the epoch, or any time
// before it) never expires and returns every entry, old ones and tombstones included.
func TestFeedPositionExpires(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	old := h.create(t, u, body(t, u, "", nil))
	gone := h.create(t, u, body(t, u, "", nil))
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(gone.ID), nil)
	recent := h.create(t, u, body(t, u, "", nil))
	// old was last changed 40 days ago: only a feed from before then, or from the start,
	// holds it.
	if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entries SET updated_at = now() - interval '40 days' WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	all := []string{gone.ID, recent.ID, old.ID} // in change order: the UPDATE above is old's latest change
	tests := []struct {
		name, since string
		want        int
		items       []string
	}{
		{"cursor issued 29 days ago", feedCursor{seq: 0, issued: time.Now().Add(-29 * day)}.encode(), http.StatusOK, all},
		{"cursor issued 31 days ago", feedCursor{seq: 0, issued: time.Now().Add(-31 * day)}.encode(), http.StatusGone, nil},
		{"time 29 days ago", time.Now().Add(-29 * day).UTC().Format(time.RFC3339), http.StatusOK, []string{gone.ID, recent.ID}},
		{"time 31 days ago", time.Now().Add(-31 * day).UTC().Format(time.RFC3339Nano), http.StatusGone, nil},
		{"an old time", "2000-01-01T00:00:00Z", http.StatusGone, nil},
		{"just after the epoch", "1970-01-01T00:00:00.000001Z", http.StatusGone, nil},
		{"the epoch: a full sync", "1970-01-01T00:00:00Z", http.StatusOK, all},
		{"the epoch in another zone", "1970-01-01T01:00:00+01:00", http.StatusOK, all},
		{"a zero time: a full sync", "0001-01-01T00:00:00Z", http.StatusOK, all},
		{"a future time", time.Now().Add(day).UTC().Format(time.RFC3339), http.StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do(t, u, "GET", "/api/v1/entries?updated_since="+url.QueryEscape(tt.since), nil)
			if res.Code != tt.want {
				t.Fatalf("Feed(updated_since=%s) = %d %s, want %d", tt.since, res.Code, res.Body, tt.want)
			}
			if tt.want == http.StatusGone {
				e := decodeJSON[errorJSON](t, res)
				if e.Code != "sync_expired" || !strings.Contains(e.Detail, "1970-01-01T00:00:00Z") {
					t.Errorf("Feed(updated_since=%s) error = %+v, want code sync_expired and a detail naming the full resync", tt.since, e)
				}
				return
			}
			page := decodeJSON[pageJSON](t, res)
			if got := page.ids(); !slices.Equal(got, tt.items) {
				t.Errorf("Feed(updated_since=%s) = %v, want %v", tt.since, got, tt.items)
			}
			if page.SyncCursor == nil {
				t.Errorf("Feed(updated_since=%s) has no sync_cursor", tt.since)
			}
		})
	}

	// The full resync goes on like any feed: from its sync_cursor, only what changed since.
	_, pos := h.syncAll(t, u, "1970-01-01T00:00:00Z", 1)
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(recent.ID), nil)
	got, _ := h.syncAll(t, u, pos, 10)
	assertChanges(t, "feed after a full resync and a delete", got, []feedChange{{recent.ID, 2, true}})
}
