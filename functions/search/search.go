package search

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// errEntryUnreadable answers a hit that failed its integrity check.
var errEntryUnreadable = httpapi.NewError(http.StatusInternalServerError, "entry_unreadable",
	"an entry failed its integrity check and cannot be shown")

// entryView is a uce entry as GET /api/v1/entries/{id} shows it.
type entryView struct {
	ID         string     `json:"id"`
	Title      *string    `json:"title"`
	Content    string     `json:"content"`
	Mood       *string    `json:"mood"`
	Tags       []string   `json:"tags"`
	Source     string     `json:"source"`
	OccurredAt time.Time  `json:"occurred_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	DeletedAt  *time.Time `json:"deleted_at"`
	Version    int        `json:"version"`
}

// hitView is one search result.
type hitView struct {
	Entry      entryView `json:"entry"`
	Score      float32   `json:"score"`
	Snippet    string    `json:"snippet"`
	Highlights [][2]int  `json:"highlights"`
}

// resultView is a page of results.
type resultView struct {
	Items      []hitView `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// search serves POST /api/v1/search: the caller's live entries matching the query, best
// first, each with a snippet around its first match.
func (a *api) search(w http.ResponseWriter, r *http.Request) {
	c, err := callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req searchRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxRequestBytes); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	in, err := req.validate()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	k, err := blindindex.NewKey(c.key, c.userID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	tsquery := k.TSQuery(in.query)
	k.Wipe()
	hits, more, err := findHits(r.Context(), a.db, c.userID, tsquery, in)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	res := resultView{Items: make([]hitView, 0, len(hits))}
	for _, h := range hits {
		title, content, err := entrybody.Open(c.key, c.userID, h.ID, h.BodyVersion,
			entrybody.Sealed{Title: h.TitleCT, Content: h.ContentCT})
		if err != nil {
			httpapi.Fail(w, r, errEntryUnreadable.Wrap(fmt.Errorf("search: entry %s: %w", h.ID, err)))
			return
		}
		snippet, marks := blindindex.Snippet(content, in.query)
		res.Items = append(res.Items, hitView{Entry: h.view(title, content), Score: h.score(), Snippet: snippet, Highlights: marks})
	}
	if more && len(hits) > 0 {
		last := hits[len(hits)-1]
		cur := position{distance: last.Distance, id: last.ID}.encode()
		res.NextCursor = &cur
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, res)
}

// rankedQuery is the inner part of findHits's SQL: the ids and distances of the matches
// that can be on the page, with match the condition and distance the expression of the
// rank over one tsvector column (constants, never user text). Over the RUM index
// (migration 0014; match "col @@ q", distance "col <=> q") the index both finds the
// matches and yields them nearest first (the distance is the reciprocal of the rank), so
// the scan stops soon after the page instead of ranking every match: rank() with a ROWS
// frame over that stream has a run condition (r <= $9) that ends the scan at the first
// row ranked past the page, and it keeps every row that ties with the page's last, which
// the page's order by id needs. The entries join checks each row as it streams (live,
// current tokens, filters). The keyset condition is on the distance itself, compared
// exactly as a float8.
func rankedQuery(match, distance string) string {
	return `
		SELECT distance, entry_id FROM (
			SELECT ` + distance + ` AS distance, s.entry_id,
			       rank() OVER (ORDER BY ` + distance + ` ROWS UNBOUNDED PRECEDING) AS r
			FROM search_index s
			JOIN entries e ON e.id = s.entry_id AND e.user_id = s.user_id
			WHERE s.user_id = $1 AND ` + match + `
			  AND e.deleted_at IS NULL AND s.entry_version = e.body_version
			  AND ($3::text IS NULL OR e.mood = $3)
			  AND ($4::text[] IS NULL OR e.tags @> $4)
			  AND ($5::timestamptz IS NULL OR e.occurred_at >= $5)
			  AND ($6::timestamptz IS NULL OR e.occurred_at < $6)
			  AND ($7::float8 IS NULL OR ` + distance + ` > $7
			       OR (` + distance + ` = $7 AND s.entry_id < $8::uuid))
		) ranked
		WHERE r <= $9`
}

// indexedQuery ranks over column's RUM index.
func indexedQuery(column string) string {
	return rankedQuery("s."+column+" @@ $2::tsquery", "(s."+column+" <=> $2::tsquery)")
}

// fullScanQuery ranks a query no index can serve (an or'ed exclusion:
// Query.NeedsFullScan) the same way, with the functions behind the operators
// (ts_match_vq for @@, rum_ts_distance for <=>), so that the planner reads the user's rows
// by search_index_user_idx and never asks the RUM index for a full scan, which would read
// every user's tokens (and crashed a backend here once, under load).
func fullScanQuery(column string) string {
	return rankedQuery("ts_match_vq(s."+column+", $2::tsquery)", "rum_ts_distance(s."+column+", $2::tsquery)")
}

// pageQuery is findHits's SQL: the page's entries, best first, from the rows ranked (the
// first SQL, a constant), which are few: the page and the rows tied with its last. The
// sort is over those few rows only.
func pageQuery(ranked string) string {
	return `
		SELECT h.distance, e.id, e.title_ct, e.content_ct, e.body_version, e.mood, e.tags, e.source,
		       e.occurred_at, e.created_at, e.updated_at, e.version
		FROM (` + ranked + `) h
		JOIN entries e ON e.id = h.entry_id AND e.user_id = $1
		ORDER BY h.distance, h.entry_id DESC
		LIMIT $9`
}

// The forms of findHits's SQL: by the RUM index, or on each of the user's rows; over the
// word tokens, or the tokens with prefixes.
var (
	rankedSQL           = pageQuery(indexedQuery("tokens"))
	rankedPrefixedSQL   = pageQuery(indexedQuery("tokens_prefixed"))
	fullScanSQL         = pageQuery(fullScanQuery("tokens"))
	fullScanPrefixedSQL = pageQuery(fullScanQuery("tokens_prefixed"))
)

// rankedSQLFor is the SQL findHits runs for the query, and whether it streams the RUM
// index's order (which needs the planner's sorts turned off).
func rankedSQLFor(q blindindex.Query) (string, bool) {
	switch {
	case q.NeedsFullScan() && q.HasPrefix():
		return fullScanPrefixedSQL, false
	case q.NeedsFullScan():
		return fullScanSQL, false
	case q.HasPrefix():
		return rankedPrefixedSQL, true
	default:
		return rankedSQL, true
	}
}

// hitRow is an entry that matched, with its rank.
type hitRow struct {
	Distance    float64 // RUM's distance: 1 / score, +Inf for a score of 0
	ID          string
	TitleCT     []byte
	ContentCT   []byte
	BodyVersion int
	Mood        *string
	Tags        []string
	Source      string
	OccurredAt  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int
}

// score is the hit's rank as the answer gives it: the reciprocal of the distance.
func (h hitRow) score() float32 { return float32(1 / h.Distance) }

func (h hitRow) view(title *string, content string) entryView {
	v := entryView{ID: h.ID, Title: title, Content: content, Mood: h.Mood, Tags: h.Tags, Source: h.Source,
		OccurredAt: h.OccurredAt.UTC(), CreatedAt: h.CreatedAt.UTC(), UpdatedAt: h.UpdatedAt.UTC(), Version: h.Version}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	return v
}

// findHits runs the tsquery over the user's index: live entries only, whose tokens were
// made from their current text, filtered, best first by the RUM index's rank (cover
// density with PostgreSQL's default weights, title A 1.0, content D 0.1), and paged by
// keyset on (distance, id DESC). The query is a parameter like every other value; a query
// with a prefix* matches the tokens with prefixes, any other the word tokens alone.
//
// A query the index serves runs in a read-only transaction that turns the planner's
// explicit sorts off (SET LOCAL enable_sort = off): PostgreSQL 15's planner prices the
// window's input as if every match were read (it does not count the run condition's
// early stop), so it would rather fetch and sort every match than stream the index's
// order, which is what the RUM index is there to avoid (docs/benchmarks.md). The
// transaction and the query go in one batch: one round trip.
func findHits(ctx context.Context, db *pgxpool.Pool, userID, tsquery string, in searchInput) ([]hitRow, bool, error) {
	var afterDistance *float64
	var afterID *string
	if in.after != nil {
		afterDistance, afterID = &in.after.distance, &in.after.id
	}
	sql, streams := rankedSQLFor(in.query)
	args := []any{userID, tsquery, in.mood, in.tags, in.from, in.to, afterDistance, afterID, in.limit + 1}
	var hits []hitRow
	scan := func(rows pgx.Rows) error {
		var err error
		hits, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (hitRow, error) {
			var h hitRow
			err := row.Scan(&h.Distance, &h.ID, &h.TitleCT, &h.ContentCT, &h.BodyVersion, &h.Mood, &h.Tags, &h.Source,
				&h.OccurredAt, &h.CreatedAt, &h.UpdatedAt, &h.Version)
			return h, err
		})
		return err
	}
	var err error
	if streams {
		b := &pgx.Batch{}
		b.Queue(`BEGIN READ ONLY`)
		b.Queue(`SET LOCAL enable_sort = off`)
		b.Queue(sql, args...).Query(scan)
		b.Queue(`COMMIT`)
		err = db.SendBatch(ctx, b).Close()
	} else {
		var rows pgx.Rows
		if rows, err = db.Query(ctx, sql, args...); err == nil {
			err = scan(rows)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("search: find hits: %w", store.Translate(err))
	}
	more := len(hits) > in.limit
	if more {
		hits = hits[:in.limit]
	}
	return hits, more, nil
}
