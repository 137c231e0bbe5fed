package search

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/testenv"
)

// TestScoreIsTheIndexRank: each hit's score is the RUM rank of its stored tokens
// (rum_ts_score, what the index orders by), best first, and a title hit ranks above
// content-only hits however often they repeat the word.
func TestScoreIsTheIndexRank(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	h.put(t, u, entry{content: "lantern " + strings.Repeat("the lantern again, ", 30)})
	h.put(t, u, entry{content: "A lantern by the door."})
	title := h.put(t, u, entry{title: strp("Lantern"), content: "Nothing else."})
	res := h.search(t, u, map[string]any{"query": "lantern"})
	if ids := res.ids(); len(ids) != 3 || ids[0] != title {
		t.Fatalf("search lantern = %v, want the title hit %s first of 3", ids, title)
	}
	k, err := blindindex.NewKey(u.MasterKey, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	q, err := blindindex.ParseQuery("lantern")
	if err != nil {
		t.Fatal(err)
	}
	tsq := k.TSQuery(q)
	for i, it := range res.Items {
		var want float32
		if err := h.svc.DB.QueryRow(t.Context(),
			`SELECT rum_ts_score(tokens, $2::tsquery) FROM search_index WHERE entry_id = $1`, it.Entry.ID, tsq).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if math.Abs(it.Score-float64(want)) > 1e-6*float64(want) {
			t.Errorf("hit %d score %v, want rum_ts_score %v", i, it.Score, want)
		}
		if i > 0 && it.Score > res.Items[i-1].Score {
			t.Errorf("hit %d score %v above hit %d's %v", i, it.Score, i-1, res.Items[i-1].Score)
		}
	}
}

// TestZeroScoreHitsPage: entries matched only through an or'ed exclusion have score 0
// (an infinite distance in the index's order) and come last, paged like the others:
// every hit once, nothing missing.
func TestZeroScoreHitsPage(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	want := map[string]bool{}
	for i := range 4 {
		want[h.put(t, u, entry{content: fmt.Sprintf("harbour note %d", i)})] = true
	}
	for i := range 5 {
		want[h.put(t, u, entry{content: fmt.Sprintf("quiet day %d", i)})] = true
	}
	h.put(t, u, entry{content: "a storm all day"})
	seen := map[string]bool{}
	zeros := 0
	var cursor *string
	for page := 0; page < 10; page++ {
		body := map[string]any{"query": "harbour or -storm", "limit": 3}
		if cursor != nil {
			body["cursor"] = *cursor
		}
		res := h.search(t, u, body)
		for _, it := range res.Items {
			if seen[it.Entry.ID] {
				t.Errorf("entry %s on two pages", it.Entry.ID)
			}
			seen[it.Entry.ID] = true
			if it.Score == 0 {
				zeros++
			} else if zeros > 0 {
				t.Errorf("score %v after a score of 0", it.Score)
			}
		}
		if cursor = res.NextCursor; cursor == nil {
			break
		}
	}
	if len(seen) != len(want) || zeros != 5 {
		t.Errorf("paged through %d hits (%d of score 0), want %d (5)", len(seen), zeros, len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("entry %s never returned", id)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	id := "0190a2b4-0000-7000-8000-000000000001"
	for _, d := range []float64{16.449340668482264, 1.0 / 3, math.Inf(1), math.SmallestNonzeroFloat64} {
		p, ok := decodeCursor(position{distance: d, id: id}.encode())
		if !ok || p.distance != d || p.id != id {
			t.Errorf("decodeCursor(encode(%v)) = %v %v", d, p, ok)
		}
	}
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bits := func(f float64) string { return strconv.FormatUint(math.Float64bits(f), 16) }
	for name, c := range map[string]string{
		"ts_rank_cd's cursor": raw("s1:" + strconv.FormatUint(uint64(math.Float32bits(0.5)), 16) + ":" + id),
		"NaN":                 raw("s2:" + bits(math.NaN()) + ":" + id),
		"zero":                raw("s2:0:" + id),
		"negative":            raw("s2:" + bits(-2) + ":" + id),
		"padded bits":         raw("s2:0" + bits(2) + ":" + id),
		"not a uuid":          raw("s2:" + bits(2) + ":nope"),
	} {
		if p, ok := decodeCursor(c); ok {
			t.Errorf("decodeCursor(%s) = %v, want refused", name, p)
		}
	}
}

// TestFullScanQueriesNeverAskTheRUMIndex: a query with an or'ed exclusion is evaluated on
// the user's own rows, never by a full scan of the RUM index (every user's tokens).
func TestFullScanQueriesNeverAskTheRUMIndex(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	h.put(t, u, entry{content: "harbour"})
	k, err := blindindex.NewKey(u.MasterKey, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"harbour or -storm", "harb* or -storm"} {
		q, err := blindindex.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		sql, streams := rankedSQLFor(q)
		if streams {
			t.Errorf("%q streams the RUM index", query)
		}
		rows, err := h.svc.DB.Query(t.Context(), "EXPLAIN "+sql, u.ID, k.TSQuery(q), nil, nil, nil, nil, nil, nil, 21)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "\n"); strings.Contains(p, "search_index_tokens") {
			t.Errorf("plan of %q uses a RUM index:\n%s", query, p)
		}
	}
}
