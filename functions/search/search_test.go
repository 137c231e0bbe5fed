package search

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/testenv"
)

// TestSearchFinds runs each kind of query over one user's entries and wants exactly the
// entries it names, best first where the order is given.
func TestSearchFinds(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	ids := map[string]string{
		"walk":    h.put(t, u, entry{content: "Yesterday I walked along the river with Anna."}),
		"hike":    h.put(t, u, entry{content: "A long hike in the mountains; the walking was hard."}),
		"park":    h.put(t, u, entry{content: "We had a picnic in the park, then a walk in the rain."}),
		"title":   h.put(t, u, entry{title: strp("The walker"), content: "Bought tickets for the concert."}),
		"deleted": h.put(t, u, entry{content: "A deleted walk by the river.", deleted: true}),
		"stale":   h.put(t, u, entry{content: "An entry not indexed yet, walking.", noIndex: true}),
	}
	// Another user with the same words: never found.
	h.put(t, other, entry{title: strp("Walk"), content: "Yesterday I walked along the river with Anna."})
	name := map[string]string{}
	for k, v := range ids {
		name[v] = k
	}
	cases := []struct {
		query string
		want  []string
	}{
		// Stemmed as PostgreSQL's english does: walker stays walker.
		{"walk", []string{"hike", "park", "walk"}},
		{"walked", []string{"hike", "park", "walk"}},
		{"Walking", []string{"hike", "park", "walk"}},
		{"walk river", []string{"walk"}},
		{`"walked along the river"`, []string{"walk"}},
		{`"river along"`, nil},
		{"river or mountains", []string{"hike", "walk"}},
		{"walk -river", []string{"hike", "park"}},
		{`walk -"in the rain"`, []string{"hike", "walk"}},
		{"walk*", []string{"hike", "park", "title", "walk"}},
		{"walke*", []string{"title", "walk"}},
		{"tick*", []string{"title"}},
		{"anna", []string{"walk"}},
		{"nothing", nil},
		// The title's word ranks above the content's.
		{"walker", []string{"title"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			res := h.search(t, u, map[string]any{"query": c.query})
			var got []string
			for _, id := range res.ids() {
				n, ok := name[id]
				if !ok {
					t.Fatalf("search %q found %s, an entry of another user", c.query, id)
				}
				got = append(got, n)
			}
			slices.Sort(got)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("search %q = %v, want %v", c.query, got, c.want)
			}
			if res.NextCursor != nil {
				t.Errorf("search %q: next_cursor %q on the only page", c.query, *res.NextCursor)
			}
		})
	}
}

func TestTitleHitsRankAboveContentHits(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	var content []string
	for i := range 3 {
		content = append(content, h.put(t, u, entry{content: fmt.Sprintf("Day %d: the lighthouse again, and the lighthouse keeper.", i)}))
	}
	title := h.put(t, u, entry{title: strp("Lighthouse"), content: "A quiet day by the sea."})
	res := h.search(t, u, map[string]any{"query": "lighthouse"})
	if ids := res.ids(); len(ids) != 4 || ids[0] != title {
		t.Fatalf("search lighthouse = %v, want the title hit %s first of 4", ids, title)
	}
	for i := 1; i < len(res.Items); i++ {
		if res.Items[i].Score > res.Items[i-1].Score {
			t.Errorf("scores not descending: %v then %v", res.Items[i-1].Score, res.Items[i].Score)
		}
	}
}

func TestSearchFilters(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	a := h.put(t, u, entry{content: "garden day", mood: strp("happy"), tags: []string{"home", "spring"}, occurredAt: day(1)})
	b := h.put(t, u, entry{content: "garden work", mood: strp("tired"), tags: []string{"home"}, occurredAt: day(10)})
	c := h.put(t, u, entry{content: "garden party", mood: strp("happy"), tags: []string{"friends"}, occurredAt: day(20)})
	cases := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"none", map[string]any{}, []string{a, b, c}},
		{"mood", map[string]any{"mood": "happy"}, []string{a, c}},
		{"one tag", map[string]any{"tags": []string{"HOME "}}, []string{a, b}},
		{"every tag", map[string]any{"tags": []string{"home", "spring"}}, []string{a}},
		{"from", map[string]any{"from": "2026-03-10"}, []string{b, c}},
		{"to (the whole day)", map[string]any{"to": "2026-03-10"}, []string{a, b}},
		{"from and to as times", map[string]any{"from": "2026-03-01T12:00:00Z", "to": "2026-03-01T12:00:00Z"}, []string{a}},
		{"all", map[string]any{"mood": "happy", "tags": []string{"home"}, "from": "2026-03-01", "to": "2026-03-31"}, []string{a}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["query"] = "garden"
			got := h.search(t, u, tc.body).ids()
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("search %v = %v, want %v", tc.body, got, want)
			}
		})
	}
}

// TestSearchPagination pages through hits with equal and different scores: every hit
// once, in (score, id) order, no gap, no duplicate.
func TestSearchPagination(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	want := map[string]bool{}
	for i := range 23 {
		// i%3 repetitions of the word give three distinct scores, many equal ones.
		text := "harbour " + strings.Repeat("harbour boats ", i%3) + fmt.Sprintf("note %d", i)
		want[h.put(t, u, entry{content: text})] = true
	}
	h.put(t, u, entry{content: "no match here"})
	seen := map[string]bool{}
	var cursor *string
	var lastScore float64 = 1e9
	for page := 0; ; page++ {
		body := map[string]any{"query": "harbour", "limit": 5}
		if cursor != nil {
			body["cursor"] = *cursor
		}
		res := h.search(t, u, body)
		if len(res.Items) > 5 {
			t.Fatalf("page %d has %d items, limit 5", page, len(res.Items))
		}
		for _, it := range res.Items {
			if seen[it.Entry.ID] {
				t.Errorf("entry %s on two pages", it.Entry.ID)
			}
			if it.Score > lastScore {
				t.Errorf("score %v after %v: not best first", it.Score, lastScore)
			}
			lastScore = it.Score
			seen[it.Entry.ID] = true
		}
		if res.NextCursor == nil {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = res.NextCursor
	}
	if len(seen) != len(want) {
		t.Errorf("paged through %d hits, want %d", len(seen), len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("entry %s never returned", id)
		}
	}
}

func TestDeletedNotFoundRestoredFound(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	id := h.put(t, u, entry{content: "A walk to the old mill."})
	find := func() int { return len(h.search(t, u, map[string]any{"query": "mill"}).Items) }
	if n := find(); n != 1 {
		t.Fatalf("live entry: %d hits, want 1", n)
	}
	if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entries SET deleted_at = now(), version = version + 1 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if n := find(); n != 0 {
		t.Errorf("deleted entry: %d hits, want 0", n)
	}
	if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entries SET deleted_at = NULL, version = version + 1 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if n := find(); n != 1 {
		t.Errorf("restored entry: %d hits, want 1", n)
	}
	// A purge takes the tokens with it (ON DELETE CASCADE), and so does account deletion.
	if _, err := h.svc.DB.Exec(t.Context(), `DELETE FROM entries WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	second := h.put(t, u, entry{content: "Another mill."})
	var n int
	_ = h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM search_index WHERE entry_id = $1`, id).Scan(&n)
	if n != 0 {
		t.Errorf("purged entry keeps %d search_index rows", n)
	}
	if _, err := h.svc.DB.Exec(t.Context(), `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	_ = h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM search_index WHERE user_id = $1 OR entry_id = $2`, u.ID, second).Scan(&n)
	if n != 0 {
		t.Errorf("deleted account keeps %d search_index rows", n)
	}
}

func TestSnippetAndHighlights(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	content := strings.Repeat("Nothing much to tell about this morning. ", 8) +
		"Then Zoë walked by the Ünïcode river, walking slowly. " + strings.Repeat("The evening was calm. ", 8)
	h.put(t, u, entry{title: strp("Walks"), content: content})
	res := h.search(t, u, map[string]any{"query": "walk river"})
	if len(res.Items) != 1 {
		t.Fatalf("%d hits, want 1", len(res.Items))
	}
	it := res.Items[0]
	if it.Entry.Content != content || it.Entry.Title == nil || *it.Entry.Title != "Walks" {
		t.Errorf("entry = %+v, want the decrypted entry", it.Entry)
	}
	rs := []rune(it.Snippet)
	if len(rs) < 150 || len(rs) > 230 || !strings.Contains(content, it.Snippet) {
		t.Errorf("snippet %q (%d characters): want about 200 characters of the content", it.Snippet, len(rs))
	}
	var marked []string
	for _, hl := range it.Highlights {
		marked = append(marked, string(rs[hl[0]:hl[1]]))
	}
	if fmt.Sprint(marked) != "[walked river walking]" {
		t.Errorf("highlights mark %v, want [walked river walking]", marked)
	}
}

// TestCallsRefused: e2e users get 403 on every call; bad searches a 422 (query_empty for
// a query with nothing to look for); a uce session without its key 401.
func TestCallsRefused(t *testing.T) {
	h := newHarness(t)
	e2e := testenv.NewUser(t, h.svc, "e2e")
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, basePath}, {http.MethodPost, basePath + "/index"}, {http.MethodGet, basePath + "/stats"},
	} {
		res := testenv.Do(t, h.fn, c.method, c.path, e2e.AccessToken, map[string]any{"query": "walk"})
		if res.Code != http.StatusForbidden || decode[errorJSON](t, res).Code != "feature_unavailable_for_tier" {
			t.Errorf("e2e %s %s = %d %s, want 403 feature_unavailable_for_tier", c.method, c.path, res.Code, res.Body)
		}
	}
	if n := len(testenv.Outbox(t, h.svc.DB, e2e.ID)); n != 0 {
		t.Errorf("an e2e reindex wrote %d events", n)
	}

	u := testenv.NewUser(t, h.svc, "uce")
	cases := []struct {
		name  string
		body  any
		code  int
		ecode string
		field string
	}{
		{"only stop words", map[string]any{"query": "the and of it"}, 422, "query_empty", ""},
		{"only punctuation", map[string]any{"query": "!!! ... ?"}, 422, "query_empty", ""},
		{"only exclusions", map[string]any{"query": "-walk"}, 422, "query_empty", ""},
		{"empty", map[string]any{"query": ""}, 422, "query_empty", ""},
		{"too long", map[string]any{"query": strings.Repeat("a ", 128) + "b"}, 422, "validation_error", "query"},
		{"missing", map[string]any{}, 422, "validation_error", "query"},
		{"short prefix", map[string]any{"query": "wa*"}, 422, "validation_error", "query"},
		{"limit 0", map[string]any{"query": "walk", "limit": 0}, 422, "validation_error", "limit"},
		{"limit 51", map[string]any{"query": "walk", "limit": 51}, 422, "validation_error", "limit"},
		{"bad cursor", map[string]any{"query": "walk", "cursor": "bm9wZQ"}, 422, "validation_error", "cursor"},
		{"bad from", map[string]any{"query": "walk", "from": "yesterday"}, 422, "validation_error", "from"},
		{"to before from", map[string]any{"query": "walk", "from": "2026-02-01", "to": "2026-01-01"}, 422, "validation_error", "to"},
		{"empty tag", map[string]any{"query": "walk", "tags": []string{" "}}, 422, "validation_error", "tags"},
		{"unknown field", map[string]any{"query": "walk", "sort": "date"}, 400, "", ""},
		{"not JSON", "query=walk", 400, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := testenv.Do(t, h.fn, http.MethodPost, basePath, u.AccessToken, c.body)
			if res.Code != c.code {
				t.Fatalf("search %v = %d %s, want %d", c.body, res.Code, res.Body, c.code)
			}
			e := decode[errorJSON](t, res)
			if c.ecode != "" && e.Code != c.ecode {
				t.Errorf("code = %q, want %q", e.Code, c.ecode)
			}
			if c.field != "" && e.Fields[c.field] == "" {
				t.Errorf("fields = %v, want one for %s", e.Fields, c.field)
			}
		})
	}
	keyless := testenv.User{ID: u.ID, Tier: u.Tier, AccessToken: testenv.KeylessAccessToken(t, h.svc, u)}
	for _, path := range []string{basePath, basePath + "/index"} {
		res := testenv.Do(t, h.fn, http.MethodPost, path, keyless.AccessToken, map[string]any{"query": "walk"})
		if res.Code != http.StatusUnauthorized || decode[errorJSON](t, res).Code != "session_key_unavailable" {
			t.Errorf("keyless POST %s = %d %s, want 401 session_key_unavailable", path, res.Code, res.Body)
		}
	}
	if res := testenv.Do(t, h.fn, http.MethodPost, basePath, "", map[string]any{"query": "walk"}); res.Code != http.StatusUnauthorized {
		t.Errorf("anonymous search = %d, want 401", res.Code)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	get := func() statsView {
		t.Helper()
		res := testenv.Do(t, h.fn, http.MethodGet, basePath+"/stats", u.AccessToken, nil)
		if res.Code != http.StatusOK {
			t.Fatalf("stats = %d %s", res.Code, res.Body)
		}
		return decode[statsView](t, res)
	}
	if s := get(); s.IndexedEntries != 0 || s.PendingEntries != 0 || s.LastIndexedAt != nil {
		t.Errorf("stats of a new user = %+v, want zeros and no time", s)
	}
	before := time.Now().Add(-time.Minute)
	h.put(t, u, entry{content: "one"})
	h.put(t, u, entry{content: "two"})
	h.put(t, u, entry{content: "deleted", deleted: true})
	stale := h.put(t, u, entry{content: "stale"})
	if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entries SET body_version = 2, version = 2 WHERE id = $1`, stale); err != nil {
		t.Fatal(err)
	}
	h.put(t, u, entry{content: "arrived while away", noIndex: true})
	s := get()
	if s.IndexedEntries != 2 || s.PendingEntries != 2 {
		t.Errorf("stats = %+v, want 2 indexed (live, current) and 2 pending (stale, not indexed)", s)
	}
	if s.LastIndexedAt == nil || s.LastIndexedAt.Before(before) {
		t.Errorf("last_indexed_at = %v, want a time after %v", s.LastIndexedAt, before)
	}
}

// TestReindexQueuesAJob: 202 {job_id, status: queued}, a queued job of kind search_index,
// and one event with ids only.
func TestReindexQueuesAJob(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	res := testenv.Do(t, h.fn, http.MethodPost, basePath+"/index", u.AccessToken, nil)
	if res.Code != http.StatusAccepted {
		t.Fatalf("reindex = %d %s, want 202", res.Code, res.Body)
	}
	got := decode[reindexView](t, res)
	if got.Status != "queued" || got.JobID == "" {
		t.Fatalf("reindex = %+v, want a job id and status queued", got)
	}
	var kind, status string
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT kind, status FROM jobs WHERE id = $1 AND user_id = $2`, got.JobID, u.ID).Scan(&kind, &status); err != nil {
		t.Fatal(err)
	}
	if kind != "search_index" || status != "queued" {
		t.Errorf("job = %s %s, want search_index queued", kind, status)
	}
	// Written in the job's transaction, and relayed with the row's id.
	rows := testenv.Outbox(t, h.svc.DB, u.ID)
	if len(rows) != 1 {
		t.Fatalf("%d events in the outbox, want 1", len(rows))
	}
	evs := testenv.Of(h.sink.Wait(t, func(evs []testenv.Event) bool { return len(testenv.Of(evs, u.ID)) > 0 }), u.ID)
	if len(evs) != 1 || evs[0].ID != rows[0].ID {
		t.Fatalf("delivered %+v, want the outbox row %s", evs, rows[0].ID)
	}
	ev := evs[0]
	if ev.Type != "com.xmojo.diary.search.reindex.requested" || ev.Source != "/diary/search" || ev.Subject != got.JobID {
		t.Errorf("event %s %s %s, want the reindex type, /diary/search and the job id", ev.Type, ev.Source, ev.Subject)
	}
	var data eventing.SearchReindexRequested
	if err := json.Unmarshal(ev.Data, &data); err != nil || data != (eventing.SearchReindexRequested{UserID: u.ID, JobID: got.JobID, SessionID: u.SessionID}) {
		t.Errorf("event data %s, want the user, job and session ids", ev.Data)
	}
	if bytes.Contains(ev.Data, []byte(hex.EncodeToString(u.MasterKey))) {
		t.Error("the event holds the master key")
	}
}

// TestReindexWithTheBrokerRefusing: the request does not depend on the Broker: the job is
// queued and its event waits in the outbox, undelivered, for the Broker to take it.
func TestReindexWithTheBrokerRefusing(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer refusing.Close()
	h := newHarnessSink(t, refusing.URL)
	u := testenv.NewUser(t, h.svc, "uce")
	res := testenv.Do(t, h.fn, http.MethodPost, basePath+"/index", u.AccessToken, nil)
	if res.Code != http.StatusAccepted {
		t.Fatalf("reindex with the Broker refusing = %d %s, want 202", res.Code, res.Body)
	}
	var status string
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT status FROM jobs WHERE user_id = $1`, u.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	var delivered bool
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT delivered_at IS NOT NULL FROM outbox WHERE user_id = $1`, u.ID).Scan(&delivered); err != nil {
		t.Fatalf("the reindex event in the outbox: %v", err)
	}
	if status != "queued" || delivered {
		t.Errorf("job %s, event delivered %v; want queued, waiting in the outbox", status, delivered)
	}
}

// TestCanaryNeverStoredOrLogged: a canary written in uce entries and searched for is in
// no table of a pg_dump (the search index included), no Redis value and no log line; and
// the same word in two users' entries gives them no token in common.
func TestCanaryNeverStoredOrLogged(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	v := testenv.NewUser(t, h.svc, "uce")
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	canary := "canary" + hex.EncodeToString(nonce)
	text := "The " + canary + " sang at dawn."
	eu := h.put(t, u, entry{title: strp(canary), content: text})
	ev := h.put(t, v, entry{content: text})
	for _, q := range []string{canary, canary[:9] + "*", `"` + canary + ` sang"`, canary + " -nothing"} {
		if res := h.search(t, u, map[string]any{"query": q}); len(res.Items) != 1 {
			t.Fatalf("search %q: %d hits, want 1 (the test must find its canary)", q, len(res.Items))
		}
	}
	testenv.Do(t, h.fn, http.MethodPost, basePath, u.AccessToken, map[string]any{"query": canary, "limit": 99})
	testenv.Do(t, h.fn, http.MethodGet, basePath+"/stats", u.AccessToken, nil)

	dump := testenv.DumpDatabase(t)
	if !bytes.Contains(dump, []byte(eu)) {
		t.Fatalf("the dump does not hold entry %s: is it the test database?", eu)
	}
	for _, f := range testenv.Forms(canary) {
		if bytes.Contains(dump, []byte(f)) {
			t.Errorf("the database holds the canary (as %q)", f)
		}
		if key := testenv.RedisHolding(t, h.svc.Redis, f); key != "" {
			t.Errorf("Redis key %q holds the canary (as %q)", key, f)
		}
		if strings.Contains(logs.String(), f) {
			t.Errorf("the logs hold the canary (as %q)", f)
		}
	}
	if !strings.Contains(logs.String(), `"route":"POST /api/v1/search"`) {
		t.Errorf("the captured logs miss the access log lines; is the capture working?\n%s", logs)
	}
	// Same text, two users: no token in common.
	var shared int
	if err := h.svc.DB.QueryRow(t.Context(), `
		SELECT count(*) FROM unnest((SELECT tokens FROM search_index WHERE entry_id = $1)) a
		JOIN unnest((SELECT tokens FROM search_index WHERE entry_id = $2)) b ON a.lexeme = b.lexeme`, eu, ev).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if shared != 0 {
		t.Errorf("two users' entries with the same words share %d tokens, want 0", shared)
	}
}
