package entries

import (
	"net/http"
	"slices"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestTagCopyFollowsLinks checks that an entry's own copy of its tag names
// (entries.tags), which get, list and the feed return, always equals the tags it is
// linked to (entry_tags), which the tag filter uses, as creates and updates change them.
func TestTagCopyFollowsLinks(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	e := h.create(t, u, body(t, u, "Tagged.", map[string]any{"tags": []string{"Zeta", "b-c", "bc", "alpha"}}))
	steps := []struct {
		name string
		tags []string // nil: the create above
		want []string
	}{
		{"create", nil, []string{"alpha", "b-c", "bc", "zeta"}},
		{"update replacing some", []string{"bc", "new"}, []string{"bc", "new"}},
		{"update removing all", []string{}, []string{}},
		{"update adding back", []string{"alpha"}, []string{"alpha"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.tags != nil {
				h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(e.ID), body(t, u, "Tagged.", map[string]any{"tags": s.tags}))
			}
			var copied, linked []string
			err := h.svc.DB.QueryRow(t.Context(), `
				SELECT e.tags, ARRAY(SELECT t.name FROM entry_tags et JOIN tags t ON t.id = et.tag_id
				                     WHERE et.entry_id = e.id ORDER BY t.name COLLATE "C")
				FROM entries e WHERE e.id = $1`, e.ID).Scan(&copied, &linked)
			if err != nil {
				t.Fatalf("reading the tags of %s: %v", e.ID, err)
			}
			if !slices.Equal(copied, s.want) || !slices.Equal(linked, s.want) {
				t.Errorf("after %s: entries.tags = %q, linked tags = %q, want both %q", s.name, copied, linked, s.want)
			}
			got := decodeJSON[entryJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(e.ID), nil))
			if !slices.Equal(got.Tags, s.want) {
				t.Errorf("Get after %s: tags = %q, want %q", s.name, got.Tags, s.want)
			}
		})
	}
}
