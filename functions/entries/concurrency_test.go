package entries

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestConcurrentUpdatesSameIfMatch sends two updates with the same If-Match at once,
// many times, for both tiers: exactly one wins with 200, the other gets 412.
func TestConcurrentUpdatesSameIfMatch(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			for round := 0; round < 10; round++ {
				e := h.create(t, u, body(t, u, "original", nil))
				var wg sync.WaitGroup
				ready := make(chan struct{})
				codes := make([]int, 2)
				bodies := []map[string]any{body(t, u, "writer one", nil), body(t, u, "writer two", nil)}
				for i := range codes {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-ready
						codes[i] = h.do(t, u, "PUT", entryPath(e.ID), bodies[i], "If-Match", `"1"`).Code
					}()
				}
				close(ready)
				wg.Wait()
				slices.Sort(codes)
				if !slices.Equal(codes, []int{http.StatusOK, http.StatusPreconditionFailed}) {
					t.Fatalf("round %d: two updates with If-Match \"1\" = %v, want [200 412]", round, codes)
				}
				got := decodeJSON[entryJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(e.ID), nil))
				if got.Version != 2 {
					t.Fatalf("round %d: version after the race = %d, want 2", round, got.Version)
				}
			}
		})
	}
}

// TestConcurrentDeletes sends two deletes of the same entry at once: one 204, one 404.
func TestConcurrentDeletes(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	for round := 0; round < 5; round++ {
		e := h.create(t, u, body(t, u, "", nil))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = h.do(t, u, "DELETE", entryPath(e.ID), nil).Code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if !slices.Equal(codes, []int{http.StatusNoContent, http.StatusNotFound}) {
			t.Fatalf("round %d: two deletes = %v, want [204 404]", round, codes)
		}
	}
}
