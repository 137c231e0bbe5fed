package entries

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
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

// TestBenchSQLMatchesStore keeps scripts/bench honest: the pgbench scripts must run the
// statements this package runs for create, get and list.
func TestBenchSQLMatchesStore(t *testing.T) {
	want := map[string][]string{
		"create.sql": {"SELECT entries_lock_user(:uid)", "INSERT INTO entries AS e (id, user_id, title_ct, content_ct, ciphertext, body_version, mood, source,",
			"RETURNING " + entryColumns, "INSERT INTO entry_events (entry_id, user_id, event_type, version, at)"},
		"get.sql": {"SELECT " + entryColumns + "\n\t\tFROM entries e\n\t\tWHERE e.id = :eid AND e.user_id = :uid AND (:include_deleted OR e.deleted_at IS NULL);"},
	}
	// The list's SQL is built per request: the default list's, with pgbench's variables.
	sql, args := listQuery("u", listFilter{limit: defaultLimit})
	sql = strings.Replace(sql, "$1", ":uid", 1)
	sql = strings.Replace(sql, "$2", strconv.Itoa(args[1].(int)), 1)
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
