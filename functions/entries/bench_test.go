package entries

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

// The benchmarks measure calls in process from 64 goroutines (no HTTP between client and
// function, real PostgreSQL and Redis), for profiling the function's own work. scripts/bench
// measures the API over HTTP at 64 concurrent clients.

func benchUser(b *testing.B, entries int) (*harness, testenv.User, string) {
	b.Helper()
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.Cleanup(func() { slog.SetDefault(prev) })
	svc := testenv.Services(b)
	fn, err := NewWithServices(Config{}, svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &harness{svc: svc, h: http.HandlerFunc(fn.Handle)}
	u := testenv.NewUser(b, svc, "uce")
	content := strings.Repeat("Lorem ipsum dolor sit amet. ", 37)[:1024]
	var id string
	for i := 0; i < entries; i++ {
		res := testenv.Do(b, h.h, "POST", "/api/v1/entries", u.AccessToken, map[string]any{"title": "Benchmark entry title", "content": content, "mood": "calm"})
		if res.Code != http.StatusCreated {
			b.Fatalf("Create = %d %s", res.Code, res.Body)
		}
		id = strings.TrimPrefix(res.Header().Get("Location"), "/api/v1/entries/")
	}
	return h, u, id
}

// parallel runs call from 64 goroutines at once, as scripts/bench's 64 clients.
func parallel(b *testing.B, call func() int, want int) {
	b.Helper()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got := call(); got != want {
				b.Errorf("status = %d, want %d", got, want)
				return
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	h, u, id := benchUser(b, 1)
	parallel(b, func() int {
		return testenv.Do(b, h.h, "GET", entryPath(id), u.AccessToken, nil).Code
	}, http.StatusOK)
}

func BenchmarkList(b *testing.B) {
	h, u, _ := benchUser(b, 25)
	parallel(b, func() int {
		return testenv.Do(b, h.h, "GET", "/api/v1/entries", u.AccessToken, nil).Code
	}, http.StatusOK)
}

func BenchmarkCreate(b *testing.B) {
	h, u, _ := benchUser(b, 0)
	body := map[string]any{"title": "Benchmark entry title", "content": strings.Repeat("x", 1024), "mood": "calm"}
	parallel(b, func() int {
		return testenv.Do(b, h.h, "POST", "/api/v1/entries", u.AccessToken, body).Code
	}, http.StatusCreated)
}

// proseBody is a create body of about 1 KiB of English prose in 180 words, what a diary
// entry looks like to the search tokeniser (BenchmarkCreate's content is one long word,
// which the index skips).
var proseBody = map[string]any{"title": "A walk by the harbour", "mood": "calm", "content": strings.Repeat(
	"Woke early and walked down to the harbour before breakfast. The fishing boats were "+
		"coming in, gulls everywhere, and the light on the water was silver. Met Anna at the "+
		"bakery; we talked about her new job and the trip we keep planning. ", 4)}

// BenchmarkCreateProse is BenchmarkCreate with prose: for a uce user it writes the search
// tokens in the create's transaction, so comparing it with the same benchmark on a tree
// without the index gives what indexing costs a create.
//
//	cd functions/entries && go test -run '^$' -bench CreateProse -benchtime 10s .
func BenchmarkCreateProse(b *testing.B) {
	h, u, _ := benchUser(b, 0)
	parallel(b, func() int {
		return testenv.Do(b, h.h, "POST", "/api/v1/entries", u.AccessToken, proseBody).Code
	}, http.StatusCreated)
}

// BenchmarkPageMemory measures one request for a page of 100 uce entries of 1 MiB each,
// the largest page limit allows, one request at a time: the bytes it allocates (B/op), the
// peak of the heap's objects above the idle heap while it runs (peak-heap-MB, sampled
// every millisecond with the collector set to run at 10% growth, so the heap tracks what
// is live), and the size of the answer (resp-MB). budget=4MiB is the default
// ENTRY_PAGE_MAX_BYTES; budget=unbounded bounds the page by count alone, as before the
// budget. text entries are prose; control entries are control characters, which JSON
// escapes as \u00XX, six bytes each: the worst case.
//
//	cd functions/entries && go test -run '^$' -bench PageMemory -benchtime 3x -benchmem .
func BenchmarkPageMemory(b *testing.B) {
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	b.Cleanup(func() { slog.SetDefault(prev) })
	svc := testenv.Services(b)
	prose := strings.Repeat("Lorem ipsum dolor sit amet. ", 1<<20/28+1)[:maxContentBytes]
	for _, kind := range []struct{ name, content string }{
		{"text", prose},
		{"control", strings.Repeat("\x01", maxContentBytes)},
	} {
		u := testenv.NewUser(b, svc, "uce")
		seedEntries(b, svc, u, keyset.MaxLimit, kind.content)
		for _, budget := range []struct {
			name  string
			bytes int64
		}{{"4MiB", defaultPageMaxBytes}, {"unbounded", math.MaxInt64}} {
			b.Run(kind.name+"/budget="+budget.name, func(b *testing.B) {
				fn, err := NewWithServices(Config{PageMaxBytes: budget.bytes}, svc, nil)
				if err != nil {
					b.Fatal(err)
				}
				get := func() *discardWriter {
					r := httptest.NewRequest("GET", "/api/v1/entries?limit=100", nil)
					r.Header.Set("Authorization", "Bearer "+u.AccessToken)
					w := &discardWriter{header: http.Header{}}
					fn.Handle(w, r)
					if w.code != http.StatusOK {
						b.Fatalf("GET page = %d", w.code)
					}
					return w
				}
				get() // warm the pool's connections and the caches
				defer debug.SetGCPercent(debug.SetGCPercent(10))
				runtime.GC()
				idle := heapObjects()
				peak := peakSampler()
				var written int64
				for b.Loop() {
					written = get().n
				}
				b.ReportMetric(float64(peak()-min(idle, peak()))/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(written)/(1<<20), "resp-MB")
			})
		}
	}
}

// seedEntries writes n uce entries of content for u straight into the store, far faster
// than through the API.
func seedEntries(b *testing.B, svc *platform.Services, u testenv.User, n int, content string) {
	b.Helper()
	ctx := b.Context()
	title := "Benchmark entry title"
	for range n {
		id := uuid.NewString()
		err := store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
			at, err := userlock.Lock(ctx, tx, u.ID, userlock.Entries)
			if err != nil {
				return err
			}
			body, err := entrybody.Seal(u.MasterKey, u.ID, id, 1, &title, content)
			if err != nil {
				return err
			}
			_, err = insertEntry(ctx, tx, newEntry{id: id, userID: u.ID, body: body, source: defaultSource, occurredAt: at, at: at})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// discardWriter is a ResponseWriter that counts the body and keeps none of it, so the
// benchmark measures the handler's memory and not a recorder's copy of the answer.
type discardWriter struct {
	header http.Header
	code   int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}

// heapObjects is the bytes of the heap's objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakSampler samples heapObjects every millisecond until the returned function is first
// called; that and every later call return the highest sample.
func peakSampler() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() uint64 {
		once.Do(func() {
			close(stop)
			<-done
		})
		return peak.Load()
	}
}

// benchLockStatement is userlock.Statement as scripts/bench.d/create.sql runs it: the
// entries class, and pgbench's :uid for the user.
func benchLockStatement() string {
	return strings.NewReplacer("$1::int4", strconv.Itoa(int(userlock.Entries))+"::int4", "$2", ":uid").Replace(userlock.Statement)
}

// TestBenchSQLMatchesStore keeps scripts/bench honest: the pgbench scripts must run the
// statements this package runs for create, get and list.
func TestBenchSQLMatchesStore(t *testing.T) {
	want := map[string][]string{
		"create.sql": {benchLockStatement(), "INSERT INTO entries AS e (id, user_id, title_ct, content_ct, ciphertext, body_version, mood, source,",
			"RETURNING " + entryColumns, "INSERT INTO entry_events (entry_id, user_id, event_type, version, at)"},
		"get.sql": {"SELECT " + entryColumns + "\n\t\tFROM entries e\n\t\tWHERE e.id = :eid AND e.user_id = :uid AND (:include_deleted OR e.deleted_at IS NULL);"},
	}
	// The list's SQL is built per request: the default list's, with pgbench's variables.
	sql, args := listQuery("u", listFilter{size: pageSize{limit: keyset.DefaultLimit, maxBytes: defaultPageMaxBytes}})
	for i := len(args); i > 1; i-- {
		sql = strings.ReplaceAll(sql, "$"+strconv.Itoa(i), fmt.Sprint(args[i-1]))
	}
	sql = strings.ReplaceAll(sql, "$1", ":uid")
	want["list.sql"] = []string{sql + ";"}
	for name, parts := range want {
		src, err := readFile("../../scripts/bench.d/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if !strings.Contains(src, p) {
				t.Errorf("scripts/bench.d/%s does not hold %q", name, p)
			}
		}
	}
}

// BenchmarkRenderPage decrypts and encodes a default list page, 20 uce entries of the size
// scripts/bench writes (a 21-byte title, 1024 bytes of content), as listEntries does after
// the query: the API's own CPU per page, without the database or the network.
func BenchmarkRenderPage(b *testing.B) {
	key := make([]byte, 32)
	userID := uuid.NewString()
	title, content := "Benchmark entry title", strings.Repeat("Lorem ipsum dolor sit amet. ", 37)[:1024]
	mood := "calm"
	at := time.Date(2026, 12, 1, 15, 4, 5, 123456000, time.UTC)
	rows := make([]entryRow, 20)
	for i := range rows {
		id := uuid.NewString()
		sealed, err := entrybody.Seal(key, userID, id, 1, &title, content)
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = entryRow{ID: id, TitleCT: sealed.Title, ContentCT: sealed.Content, BodyVersion: 1, Mood: &mood,
			Source: "app", OccurredAt: at, CreatedAt: at, UpdatedAt: at, Version: 1, Tags: []string{"work"}}
	}
	c := caller{userID: userID, tier: tierUCE, key: key}
	page := make([]entryRow, len(rows))
	b.ReportAllocs()
	for b.Loop() {
		copy(page, rows)
		items, err := c.renderAll(page)
		if err != nil {
			b.Fatal(err)
		}
		if err := encodePage(io.Discard, pageView{Items: items}); err != nil {
			b.Fatal(err)
		}
	}
}
