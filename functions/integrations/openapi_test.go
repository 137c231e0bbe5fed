package integrations

import (
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestOpenAPIFragmentMatchesTheRouteTable: every route served is documented and every
// documented operation is served, the fragment's own names carry its prefix, and every
// reference resolves.
func TestOpenAPIFragmentMatchesTheRouteTable(t *testing.T) {
	var served []string
	for _, rt := range routeTable(&server{}) {
		served = append(served, rt.Method+" "+basePath+rt.Path)
	}
	testenv.WantOpenAPIFragment(t, OpenAPI, "Integration", served)
}
