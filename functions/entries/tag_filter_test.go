package entries

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/testenv"
)

// TestTagFilterUsesTheGINIndex checks that the tag filter (GET /entries?tag=) matches the
// tags stored on the entry row, as creates and updates change them, and that its SQL is
// answered by the GIN index on entries.tags: the one way tags are stored (migration 0007).
func TestTagFilterUsesTheGINIndex(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	// Names no other test uses, so the index's answer is about this user's rows alone.
	rare, common := "gin-"+uuid.NewString()[:8], "gin-common-"+uuid.NewString()[:8]
	var plain []string
	for i := range 30 {
		plain = append(plain, h.create(t, u, body(t, u, fmt.Sprint("plain ", i), map[string]any{"tags": []string{common}})).ID)
	}
	a := h.create(t, u, body(t, u, "a", map[string]any{"tags": []string{strings.ToUpper(rare), common}, "occurred_at": "2024-01-02T00:00:00Z"})).ID
	b := h.create(t, u, body(t, u, "b", map[string]any{"tags": []string{rare}, "occurred_at": "2024-01-01T00:00:00Z"})).ID

	list := func(t *testing.T, tags ...string) []string {
		t.Helper()
		q := url.Values{"tag": tags, "limit": {"100"}}
		return decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?"+q.Encode(), nil)).ids()
	}
	steps := []struct {
		name   string
		update func(t *testing.T)
		tags   []string
		want   []string
	}{
		{"rare tag", nil, []string{rare}, []string{a, b}},
		{"rare tag, as typed differently", nil, []string{" " + strings.ToUpper(rare) + " "}, []string{a, b}},
		{"both tags", nil, []string{rare, common}, []string{a}},
		{"after an update removes the rare tag from a", func(t *testing.T) {
			h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(a), body(t, u, "a", map[string]any{"tags": []string{common}}))
		}, []string{rare}, []string{b}},
		{"after an update adds it to a plain entry", func(t *testing.T) {
			h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(plain[0]), body(t, u, "p", map[string]any{"tags": []string{rare, "other"}}))
		}, []string{rare}, []string{plain[0], b}},
		{"after the delete of b", func(t *testing.T) {
			h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(b), nil)
		}, []string{rare}, []string{plain[0]}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.update != nil {
				s.update(t)
			}
			if got := list(t, s.tags...); !slices.Equal(got, s.want) {
				t.Errorf("List(tag=%q) = %v, want %v", s.tags, got, s.want)
			}
		})
	}

	// The list's SQL for the rare tag, planned for a user with thousands of entries: the
	// plan must read entries_tags_idx for the containment, and give the same page. The
	// entries and the statistics that make the planner see them exist only inside this
	// transaction (ANALYZE samples the transaction's own rows, and its pg_statistic rows
	// roll back with it), so no other test sees either; the scans that could answer the
	// filter without an index on tags are off, so only the estimates of the bitmap paths
	// decide.
	sql, args := listQuery(u.ID, listFilter{size: pageSize{limit: 100, maxBytes: defaultPageMaxBytes}, tags: []string{rare}})
	ctx := t.Context()
	err := pgx.BeginFunc(ctx, h.svc.DB, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			"SET LOCAL enable_seqscan = off", "SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off",
			`INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, content_bytes, tags)
			 SELECT gen_random_uuid(), '` + u.ID + `', '\x00', 1, now(), now(), now(), 1, ARRAY['` + common + `']
			 FROM generate_series(1, 3000)`,
			"ANALYZE entries",
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%.40s: %w", stmt, err)
			}
		}
		var plan []byte
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		if !planUsesIndex(t, plan, "entries_tags_idx", "@>") {
			t.Errorf("plan of the tag filter does not read entries_tags_idx for tags @>:\n%s", plan)
		}
		rows, more, err := findEntries(ctx, tx, u.ID, listFilter{size: pageSize{limit: 100, maxBytes: defaultPageMaxBytes}, tags: []string{rare}})
		if err != nil {
			return err
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if want := []string{plain[0]}; !slices.Equal(ids, want) || more {
			t.Errorf("findEntries(tag %s) through the index = %v (more %v), want %v", rare, ids, more, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// planUsesIndex reports whether an EXPLAIN (FORMAT JSON) plan has a node that scans index
// with an index condition holding cond.
func planUsesIndex(t *testing.T, plan []byte, index, cond string) bool {
	t.Helper()
	var doc []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("decode plan %s: %v", plan, err)
	}
	var walk func(n planNode) bool
	walk = func(n planNode) bool {
		if n.IndexName == index && strings.Contains(n.IndexCond, cond) {
			return true
		}
		return slices.ContainsFunc(n.Plans, walk)
	}
	return walk(doc[0].Plan)
}

// planNode is the part of an EXPLAIN (FORMAT JSON) node the test reads.
type planNode struct {
	IndexName string     `json:"Index Name"`
	IndexCond string     `json:"Index Cond"`
	Plans     []planNode `json:"Plans"`
}
