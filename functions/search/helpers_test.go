package search

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

// harness is the search function over the test services, with a stand-in Broker that
// records what it receives.
type harness struct {
	svc  *platform.Services
	fn   http.Handler
	sink *testenv.EventSink
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	sink := testenv.NewEventSink(t)
	h := newHarnessSink(t, sink.URL)
	h.sink = sink
	return h
}

// newHarnessSink is newHarness with K_SINK at url.
func newHarnessSink(t *testing.T, url string) *harness {
	t.Helper()
	svc := testenv.Services(t)
	fn, err := NewWithServices(Config{Sink: url}, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fn.Stop(context.Background()) }) // its relay, before svc closes
	return &harness{svc: svc, fn: http.HandlerFunc(fn.Handle)}
}

// entry is a uce entry for put.
type entry struct {
	title      *string
	content    string
	mood       *string
	tags       []string
	occurredAt time.Time
	deleted    bool
	noIndex    bool // written without tokens, as content that arrived while the key was away
}

func strp(s string) *string { return &s }

// put writes a uce entry of u the way the entries function does: sealed under the master
// key, and its tokens (blindindex.Tokens + Put) in the same transaction, under the user's
// entry lock. It returns the entry id.
func (h *harness) put(t *testing.T, u testenv.User, e entry) string {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	body, err := entrybody.Seal(u.MasterKey, u.ID, id, 1, e.title, e.content)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := blindindex.Tokens(u.MasterKey, u.ID, blindindex.Own, e.title, e.content)
	if err != nil {
		t.Fatal(err)
	}
	if e.occurredAt.IsZero() {
		e.occurredAt = time.Now().UTC()
	}
	if e.tags == nil {
		e.tags = []string{}
	}
	err = store.Transact(t.Context(), h.svc.DB, func(tx pgx.Tx) error {
		at, err := userlock.Lock(t.Context(), tx, u.ID, userlock.Entries)
		if err != nil {
			return err
		}
		var deletedAt *time.Time
		if e.deleted {
			deletedAt = &at
		}
		if _, err := tx.Exec(t.Context(), `
			INSERT INTO entries (id, user_id, title_ct, content_ct, body_version, mood, source, occurred_at,
				created_at, updated_at, deleted_at, version, content_bytes, tags)
			VALUES ($1, $2, $3, $4, 1, $5, 'app', $6, $7, $7, $8, 1, $9, $10)`,
			id, u.ID, body.Title, body.Content, e.mood, e.occurredAt, at, deletedAt, body.Size(), e.tags); err != nil {
			return err
		}
		if e.noIndex {
			return nil
		}
		return blindindex.Put(t.Context(), tx, u.ID, id, 1, tokens)
	})
	if err != nil {
		t.Fatalf("put entry: %v", err)
	}
	return id
}

// searchJSON is the answer to a search.
type searchJSON struct {
	Items []struct {
		Entry struct {
			ID      string   `json:"id"`
			Title   *string  `json:"title"`
			Content string   `json:"content"`
			Tags    []string `json:"tags"`
		} `json:"entry"`
		Score      float64  `json:"score"`
		Snippet    string   `json:"snippet"`
		Highlights [][2]int `json:"highlights"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (s searchJSON) ids() []string {
	ids := []string{}
	for _, it := range s.Items {
		ids = append(ids, it.Entry.ID)
	}
	return ids
}

type errorJSON struct {
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Fields map[string]string `json:"fields"`
}

// search posts body to /api/v1/search as u and wants 200.
func (h *harness) search(t *testing.T, u testenv.User, body map[string]any) searchJSON {
	t.Helper()
	res := testenv.Do(t, h.fn, http.MethodPost, basePath, u.AccessToken, body)
	if res.Code != http.StatusOK {
		t.Fatalf("search %v = %d %s, want 200", body, res.Code, res.Body)
	}
	var s searchJSON
	res.JSON(t, &s)
	return s
}

func decode[T any](t *testing.T, res testenv.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", res.Body, err)
	}
	return v
}
