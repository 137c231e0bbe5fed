package search

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// BenchmarkSearch100k measures search over one uce user with SEARCH_BENCH_ENTRIES
// (100000) generated entries: p50 and p95 latency of a set of queries at 1 and 16
// concurrent clients, three ways in the same run over the same texts:
//   - blind: the SQL the search function runs (findHits) over the keyed tokens;
//   - plain: the same SQL shape over PostgreSQL's own plaintext FTS (to_tsvector('english'),
//     title weighted A, GIN index) in the scratch table search_bench_plain;
//   - api: the whole POST /api/v1/search handler (token check, session, key, query, 20
//     hits decrypted, snippets, JSON), in process.
//
// It also reports the index sizes per entry. SEARCH_BENCH_ONLY runs only the queries whose
// name holds it; SEARCH_BENCH_PER_CLIENT_1 and _16 set the calls per client of each way
// (60 and 10). The entries are written once (the user's id
// is fixed) and reused by later runs while SEARCH_BENCH_KEEP=1; otherwise the user (and
// with it every row: ON DELETE CASCADE) and the scratch table are dropped at the end.
//
//	cd functions/search && SEARCH_BENCH_KEEP=1 go test -run '^$' -bench Search100k -benchtime 1x -timeout 60m .
func BenchmarkSearch100k(b *testing.B) {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.Cleanup(func() { slog.SetDefault(prev) })
	n := 100000
	if s := os.Getenv("SEARCH_BENCH_ENTRIES"); s != "" {
		fmt.Sscan(s, &n)
	}
	svc := testenv.Services(b)
	ctx := context.Background()
	u := benchCorpus(b, svc, n)
	if os.Getenv("SEARCH_BENCH_KEEP") != "1" {
		b.Cleanup(func() {
			_, _ = svc.DB.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID)
			_, _ = svc.DB.Exec(ctx, `DROP TABLE IF EXISTS search_bench_plain`)
		})
	}
	fn, err := NewWithServices(Config{}, svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	handler := http.HandlerFunc(fn.Handle)
	k, err := blindindex.NewKey(u.MasterKey, u.ID)
	if err != nil {
		b.Fatal(err)
	}
	v := benchVocabulary()
	queries := []struct{ name, blind, plain string }{
		{"one word, frequent (rank 100)", v[100], v[100]},
		{"one word, rare (rank 3000)", v[3000], v[3000]},
		{"two words (ranks 100, 300)", v[100] + " " + v[300], v[100] + " " + v[300]},
		{"phrase (ranks 10, 20)", `"` + v[10] + " " + v[20] + `"`, `"` + v[10] + " " + v[20] + `"`},
		{"prefix (3 letters)", v[50][:3] + "*", v[50][:3] + ":*"},
	}
	fmt.Printf("\nsearch over %d entries of one uce user (limit 20)\n", n)
	fmt.Printf("%-32s %7s %8s | %-17s | %-17s | %-17s | %s\n", "query", "clients", "hits", "blind p50 / p95", "plain p50 / p95", "api p50 / p95", "blind/plain p95")
	only := os.Getenv("SEARCH_BENCH_ONLY") // a substring of the query names to run
	for _, q := range queries {
		if only != "" && !strings.Contains(q.name, only) {
			continue
		}
		// An access token lives 15 minutes: a fresh one for each query.
		if u.AccessToken, _, err = testenv.Issuer(b).Issue(u.ID, u.SessionID, "uce"); err != nil {
			b.Fatal(err)
		}
		parsed, err := blindindex.ParseQuery(q.blind)
		if err != nil {
			b.Fatalf("ParseQuery(%q): %v", q.blind, err)
		}
		in := searchInput{query: parsed, limit: defaultLimit}
		tsq := k.TSQuery(parsed)
		var hits, plainHits int
		col := "tokens"
		if parsed.HasPrefix() {
			col = "tokens_prefixed"
		}
		_ = svc.DB.QueryRow(ctx, `SELECT count(*) FROM search_index WHERE user_id = $1 AND `+col+` @@ $2::tsquery`, u.ID, tsq).Scan(&hits)
		plainQ := `websearch_to_tsquery('english', $2)`
		if strings.HasSuffix(q.plain, ":*") {
			plainQ = `to_tsquery('english', $2)`
		}
		_ = svc.DB.QueryRow(ctx, `SELECT count(*) FROM search_bench_plain WHERE user_id = $1 AND tsv @@ `+plainQ, u.ID, q.plain).Scan(&plainHits)
		if os.Getenv("SEARCH_BENCH_EXPLAIN") == "1" {
			explainHits(b, svc, u.ID, tsq, in)
		}
		blind := func() error {
			_, _, err := findHits(ctx, svc.DB, u.ID, tsq, in)
			return err
		}
		plain := func() error { return plainSearch(ctx, svc, u.ID, plainQ, q.plain) }
		api := func() error {
			res := testenv.Do(b, handler, http.MethodPost, basePath, u.AccessToken, map[string]any{"query": q.blind})
			if res.Code != http.StatusOK {
				return fmt.Errorf("search = %d %s", res.Code, res.Body)
			}
			return nil
		}
		for _, clients := range []int{1, 16} {
			perClient := benchSamples(b, "SEARCH_BENCH_PER_CLIENT_16", 10) // 160 calls of each way at 16 clients
			if clients == 1 {
				perClient = benchSamples(b, "SEARCH_BENCH_PER_CLIENT_1", 60)
			}
			lat := latencies(b, clients, perClient, blind, plain, api)
			bl, pl, ap := lat[0], lat[1], lat[2]
			fmt.Printf("%-32s %7d %8s | %7.1f / %7.1f | %7.1f / %7.1f | %7.1f / %7.1f | %.2fx\n", q.name, clients,
				fmt.Sprintf("%d/%d", hits, plainHits), ms(bl, 50), ms(bl, 95), ms(pl, 50), ms(pl, 95), ms(ap, 50), ms(ap, 95), ms(bl, 95)/ms(pl, 95))
			b.ReportMetric(ms(bl, 95), fmt.Sprintf("blind-p95-ms/%s/c%d", slug(q.name), clients))
			b.ReportMetric(ms(pl, 95), fmt.Sprintf("plain-p95-ms/%s/c%d", slug(q.name), clients))
		}
	}
	var blindBytes, plainBytes, tokensBytes, prefixedBytes, plainTSV, lexemes, prefixedLexemes float64
	_ = svc.DB.QueryRow(ctx, `SELECT pg_total_relation_size('search_index'), pg_total_relation_size('search_bench_plain')`).Scan(&blindBytes, &plainBytes)
	_ = svc.DB.QueryRow(ctx, `
		SELECT avg(pg_column_size(tokens)), avg(length(tokens)), avg(pg_column_size(tokens_prefixed)), avg(length(tokens_prefixed))
		FROM search_index WHERE user_id = $1`, u.ID).Scan(&tokensBytes, &lexemes, &prefixedBytes, &prefixedLexemes)
	_ = svc.DB.QueryRow(ctx, `SELECT avg(pg_column_size(tsv)) FROM search_bench_plain WHERE user_id = $1`, u.ID).Scan(&plainTSV)
	var others int64
	_ = svc.DB.QueryRow(ctx, `SELECT count(*) FROM search_index WHERE user_id <> $1`, u.ID).Scan(&others)
	fmt.Printf("\nindex size: search_index %.0f MB (table, TOAST and indexes; %d rows of other users), plain %.0f MB\n", blindBytes/1e6, others, plainBytes/1e6)
	fmt.Printf("per entry: tokens %.0f B (%.0f lexemes), tokens_prefixed %.0f B (%.0f lexemes), plain tsvector %.0f B; whole relation %.0f B vs %.0f B\n",
		tokensBytes, lexemes, prefixedBytes, prefixedLexemes, plainTSV, blindBytes/float64(n), plainBytes/float64(n))
}

// benchSamples reads a sample count from the environment variable name, def when unset.
func benchSamples(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if _, err := fmt.Sscan(s, &def); err != nil || def < 1 {
			b.Fatalf("%s: want a positive integer", name)
		}
	}
	return def
}

// plainRankWeights are ts_rank_cd's weights for D, C, B and A in the plaintext baseline:
// PostgreSQL's defaults, the ones the RUM index ranks the blind tokens with.
const plainRankWeights = "{0.1, 0.2, 0.4, 1.0}"

// plainSearch is the search as PostgreSQL's own FTS does it over the plaintext scratch
// table: a GIN index finds the matches, ts_rank_cd ranks every one of them.
func plainSearch(ctx context.Context, svc *platform.Services, userID, tsquery, text string) error {
	rows, err := svc.DB.Query(ctx, `
		WITH q AS (SELECT `+tsquery+` AS q),
		hits AS (
			SELECT p.entry_id, ts_rank_cd($3::real[], p.tsv, q.q) AS score
			FROM search_bench_plain p
			CROSS JOIN q
			JOIN entries e ON e.id = p.entry_id AND e.user_id = p.user_id
			WHERE p.user_id = $1 AND p.tsv @@ q.q AND e.deleted_at IS NULL
		)
		SELECT h.score, e.id, e.title_ct, e.content_ct, e.body_version, e.mood, e.tags, e.source,
		       e.occurred_at, e.created_at, e.updated_at, e.version
		FROM hits h JOIN entries e ON e.id = h.entry_id
		ORDER BY h.score DESC, h.entry_id DESC
		LIMIT 21`, userID, text, plainRankWeights)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

func slug(s string) string {
	return strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(s)
}

// latencies runs each of calls perClient times from each of clients goroutines, taking
// turns (blind, plain, api, blind, ...) so that every way meets the same load from the
// machine, and returns every call's duration per way, sorted.
func latencies(b *testing.B, clients, perClient int, calls ...func() error) [][]time.Duration {
	b.Helper()
	var mu sync.Mutex
	all := make([][]time.Duration, len(calls))
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			local := make([][]time.Duration, len(calls))
			for range perClient {
				for i, call := range calls {
					start := time.Now()
					if err := call(); err != nil {
						b.Error(err)
						return
					}
					local[i] = append(local[i], time.Since(start))
				}
			}
			mu.Lock()
			for i := range calls {
				all[i] = append(all[i], local[i]...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range all {
		slices.Sort(all[i])
	}
	return all
}

// ms is the p-th percentile of sorted durations, in milliseconds.
func ms(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, (len(sorted)*p+99)/100-1)
	return float64(sorted[max(i, 0)].Microseconds()) / 1000
}

// benchUserID is the benchmark user's fixed id, so a kept corpus is found again.
const benchUserID = "b0000000-0000-4000-8000-000000100000"

// benchCorpus returns the benchmark user with n generated entries, written now unless a
// kept run left exactly n: sealed bodies in entries, keyed tokens in search_index and the
// plaintext tsvectors in search_bench_plain.
func benchCorpus(b *testing.B, svc *platform.Services, n int) testenv.User {
	b.Helper()
	ctx := context.Background()
	u := testenv.User{ID: benchUserID, Tier: "uce", MasterKey: bytes.Repeat([]byte{7}, 32)}
	var have int
	_ = svc.DB.QueryRow(ctx, `SELECT count(*) FROM entries WHERE user_id = $1`, u.ID).Scan(&have)
	var plainHave int
	_ = svc.DB.QueryRow(ctx, `SELECT count(*) FROM search_bench_plain WHERE user_id = $1`, u.ID).Scan(&plainHave)
	if have != n || plainHave != n {
		_, _ = svc.DB.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID)
		_, _ = svc.DB.Exec(ctx, `DROP TABLE IF EXISTS search_bench_plain`)
		if _, err := svc.DB.Exec(ctx, `
			INSERT INTO users (id, email, password_hash, encryption_tier, public_key, kdf_salt, wrapped_master_key, wrapped_private_key)
			VALUES ($1, 'search-bench@example.test', 'not-a-bcrypt-hash', 'uce', $2, $3, $4, $4)`,
			u.ID, bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 72)); err != nil {
			b.Fatalf("insert bench user: %v", err)
		}
		if _, err := svc.DB.Exec(ctx, `CREATE TABLE search_bench_plain (entry_id uuid PRIMARY KEY, user_id uuid NOT NULL, tsv tsvector NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		writeCorpus(b, svc, u, n)
		if _, err := svc.DB.Exec(ctx, `CREATE INDEX search_bench_plain_tsv_idx ON search_bench_plain USING gin (tsv)`); err != nil {
			b.Fatal(err)
		}
		for _, t := range []string{"entries", "search_index", "search_bench_plain"} {
			if _, err := svc.DB.Exec(ctx, `VACUUM ANALYZE `+t); err != nil {
				b.Fatal(err)
			}
		}
		fmt.Printf("wrote %d entries in %s\n", n, time.Since(start).Round(time.Second))
	}
	sess, _, err := svc.Sessions.Create(ctx, u.ID, "uce", u.MasterKey)
	if err != nil {
		b.Fatal(err)
	}
	u.SessionID = sess.ID
	return u
}

// writeCorpus writes n entries in batches from two goroutines (the machine's cores).
func writeCorpus(b *testing.B, svc *platform.Services, u testenv.User, n int) {
	const batch = 500
	vocab := benchVocabulary()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			zipf := newZipf(rng, len(vocab))
			k, err := blindindex.NewKey(u.MasterKey, u.ID)
			if err != nil {
				errs <- err
				return
			}
			for start := w * batch; start < n; start += 2 * batch {
				m := min(batch, n-start)
				ids := make([]string, m)
				titles := make([]*string, m)
				contents := make([]string, m)
				titleCT := make([][]byte, m)
				contentCT := make([][]byte, m)
				sizes := make([]int, m)
				occurred := make([]time.Time, m)
				tokens := make([]string, m)
				prefixed := make([]string, m)
				for i := range m {
					ids[i] = uuid.Must(uuid.NewV7()).String()
					if rng.IntN(2) == 0 {
						t := benchText(rng, zipf, vocab, 2+rng.IntN(4))
						titles[i] = &t
					}
					contents[i] = benchText(rng, zipf, vocab, 120+rng.IntN(230))
					sealed, err := entrybody.Seal(u.MasterKey, u.ID, ids[i], 1, titles[i], contents[i])
					if err != nil {
						errs <- err
						return
					}
					titleCT[i], contentCT[i], sizes[i] = sealed.Title, sealed.Content, sealed.Size()
					occurred[i] = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(start+i) * time.Hour)
					vec := k.Vector(blindindex.Own, titles[i], contents[i])
					tokens[i], prefixed[i] = vec.Words(), vec.All()
				}
				err := pgx.BeginFunc(context.Background(), svc.DB, func(tx pgx.Tx) error {
					if _, err := tx.Exec(context.Background(), `SELECT entries_lock_user($1)`, u.ID); err != nil {
						return err
					}
					if _, err := tx.Exec(context.Background(), `
						INSERT INTO entries (id, user_id, title_ct, content_ct, body_version, source, occurred_at,
							created_at, updated_at, version, content_bytes, tags)
						SELECT id, $1, t, c, 1, 'app', o, now(), now(), 1, s, '{}'
						FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::timestamptz[], $6::int[]) AS x (id, t, c, o, s)`,
						u.ID, ids, titleCT, contentCT, occurred, sizes); err != nil {
						return err
					}
					if _, err := tx.Exec(context.Background(), `
						INSERT INTO search_index (entry_id, user_id, entry_version, tokens, tokens_prefixed)
						SELECT id, $1, 1, tok::tsvector, pre::tsvector FROM unnest($2::uuid[], $3::text[], $4::text[]) AS x (id, tok, pre)`,
						u.ID, ids, tokens, prefixed); err != nil {
						return err
					}
					_, err := tx.Exec(context.Background(), `
						INSERT INTO search_bench_plain (entry_id, user_id, tsv)
						SELECT id, $1, setweight(to_tsvector('english', coalesce(t, '')), 'A') || to_tsvector('english', c)
						FROM unnest($2::uuid[], $3::text[], $4::text[]) AS x (id, t, c)`,
						u.ID, ids, titles, contents)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("write corpus: %v", err)
	}
}

// benchVocabulary is 30000 distinct made-up English-like words (syllables, some with
// inflections the stemmer folds: -s, -ed, -ing, -er, -ly, -ness, -tion), in rank order:
// the same list every run.
func benchVocabulary() []string {
	rng := rand.New(rand.NewPCG(7, 7))
	onsets := strings.Fields("b c d f g h j k l m n p r s t v w st tr pl br gr ch sh th cl fr sp")
	vowels := strings.Fields("a e i o u ai ea ou oo ie")
	codas := strings.Fields("_ _ _ n r l t s m nd st ck ng rt")
	suffixes := []string{"", "", "", "", "s", "ed", "ing", "er", "ly", "ness", "tion"}
	seen := map[string]bool{}
	var words []string
	for len(words) < 30000 {
		var sb strings.Builder
		for range 1 + rng.IntN(3) {
			sb.WriteString(onsets[rng.IntN(len(onsets))])
			sb.WriteString(vowels[rng.IntN(len(vowels))])
			if c := codas[rng.IntN(len(codas))]; c != "_" {
				sb.WriteString(c)
			}
		}
		sb.WriteString(suffixes[rng.IntN(len(suffixes))])
		w := sb.String()
		if len(w) < 3 || seen[w] || blindindexStop(w) {
			continue
		}
		seen[w] = true
		words = append(words, w)
	}
	return words
}

// blindindexStop reports whether w is an English stop word (so the made-up vocabulary
// holds none; stop words are mixed in by benchText at their own rate).
func blindindexStop(w string) bool {
	_, err := blindindex.ParseQuery(w)
	return err != nil
}

var benchStopWords = strings.Fields("the and a to of in i it was my we that for on with at is had but so this")

// benchText is words of prose: about 40% stop words (as in English), the rest drawn from
// vocab with Zipf's law, with some punctuation and capitals.
func benchText(rng *rand.Rand, zipf *zipfGen, vocab []string, words int) string {
	var sb strings.Builder
	for i := range words {
		if i > 0 {
			sb.WriteByte(' ')
		}
		var w string
		if rng.IntN(10) < 4 {
			w = benchStopWords[rng.IntN(len(benchStopWords))]
		} else {
			w = vocab[zipf.next()]
		}
		if i == 0 || rng.IntN(12) == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		sb.WriteString(w)
		if rng.IntN(9) == 0 {
			sb.WriteByte(".,;"[rng.IntN(3)])
		}
	}
	return sb.String()
}

// zipfGen draws ranks 0..n-1 with probability proportional to 1/(rank+1).
type zipfGen struct {
	rng *rand.Rand
	cdf []float64
}

func newZipf(rng *rand.Rand, n int) *zipfGen {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += 1 / float64(i+1)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &zipfGen{rng: rng, cdf: cdf}
}

func (z *zipfGen) next() int {
	i, _ := slices.BinarySearch(z.cdf, z.rng.Float64())
	return min(i, len(z.cdf)-1)
}

// explainHits prints PostgreSQL's plan of findHits's SQL for the query, with timings and
// buffers (SEARCH_BENCH_EXPLAIN=1): where a query's time goes.
func explainHits(b *testing.B, svc *platform.Services, userID, tsquery string, in searchInput) {
	sql, _ := rankedSQLFor(in.query)
	var lines []string
	err := pgx.BeginFunc(context.Background(), svc.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `SET LOCAL enable_sort = off`); err != nil {
			return err
		}
		rows, err := tx.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql,
			userID, tsquery, in.mood, in.tags, in.from, in.to, nil, nil, in.limit+1)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		b.Fatalf("explain: %v", err)
	}
	fmt.Println(strings.Join(lines, "\n"))
}
