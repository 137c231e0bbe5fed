package entries

import (
	"net/http"
	"testing"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/testenv"
)

// indexRow reads an entry's search_index row: the version its tokens were made from and
// the tokens; found is false when there is none.
func indexRow(t *testing.T, h *harness, id string) (version int, tokens string, found bool) {
	t.Helper()
	rows, err := h.svc.DB.Query(t.Context(), `SELECT entry_version, tokens::text FROM search_index WHERE entry_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, "", false
	}
	if err := rows.Scan(&version, &tokens); err != nil {
		t.Fatal(err)
	}
	return version, tokens, true
}

// TestWritesSearchTokens: a uce create and update write the entry's tokens (those of the
// text just written, at its body version) in the write's own transaction, so the entry is
// searchable once the answer arrives; delete and restore keep them; an e2e entry has none.
func TestWritesSearchTokens(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	want := func(title *string, content string) string {
		t.Helper()
		return wantTokens(t, h, u, blindindex.Own, title, content)
	}
	title := "Lighthouse"
	e := h.create(t, u, map[string]any{"title": title, "content": "We walked to the lighthouse."})
	if v, tokens, ok := indexRow(t, h, e.ID); !ok || v != 1 || tokens != want(&title, "We walked to the lighthouse.") {
		t.Errorf("after create: index row (%d, found %v) with tokens %q, want version 1 with the text's tokens", v, ok, tokens)
	}
	h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(e.ID), map[string]any{"content": "Rain all day."})
	if v, tokens, ok := indexRow(t, h, e.ID); !ok || v != 2 || tokens != want(nil, "Rain all day.") {
		t.Errorf("after update: index row (%d, found %v) with tokens %q, want version 2 with the new text's tokens", v, ok, tokens)
	}
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	h.mustStatus(t, u, http.StatusOK, "POST", entryPath(e.ID)+"/restore", nil)
	if v, _, ok := indexRow(t, h, e.ID); !ok || v != 2 {
		t.Errorf("after delete and restore: index row (%d, found %v), want the body's version 2 kept", v, ok)
	}
	// A failed update (stale If-Match) writes no tokens.
	h.mustStatus(t, u, http.StatusPreconditionFailed, "PUT", entryPath(e.ID), map[string]any{"content": "stale"}, "If-Match", `"1"`)
	if _, tokens, _ := indexRow(t, h, e.ID); tokens != want(nil, "Rain all day.") {
		t.Errorf("a refused update changed the tokens")
	}

	// Imported text (any source but app) is tokenised in the Outside domain, on create
	// and on an update that keeps the source.
	imp := h.create(t, u, map[string]any{"content": "A post from elsewhere.", "source": "facebook"})
	if _, tokens, _ := indexRow(t, h, imp.ID); tokens != wantTokens(t, h, u, blindindex.Outside, nil, "A post from elsewhere.") {
		t.Errorf("a facebook entry's tokens are not the Outside ones")
	}
	h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(imp.ID), map[string]any{"content": "Edited by me."})
	if _, tokens, _ := indexRow(t, h, imp.ID); tokens != wantTokens(t, h, u, blindindex.Outside, nil, "Edited by me.") {
		t.Errorf("after an update keeping the source: not the Outside tokens")
	}

	e2e := testenv.NewUser(t, h.svc, "e2e")
	x := h.create(t, e2e, body(t, e2e, "", nil))
	if _, _, ok := indexRow(t, h, x.ID); ok {
		t.Errorf("an e2e entry has a search_index row")
	}
}

// wantTokens is the canonical text of the word tokens of the text.
func wantTokens(t *testing.T, h *harness, u testenv.User, o blindindex.Origin, title *string, content string) string {
	t.Helper()
	v, err := blindindex.Tokens(u.MasterKey, u.ID, o, title, content)
	if err != nil {
		t.Fatal(err)
	}
	var canonical string
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT $1::tsvector::text`, v.Words()).Scan(&canonical); err != nil {
		t.Fatal(err)
	}
	return canonical
}
