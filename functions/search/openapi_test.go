package search

import (
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var served []string
	for _, rt := range routeTable(&api{}) {
		served = append(served, rt.Method+" "+basePath+rt.Path)
	}
	testenv.WantOpenAPIFragment(t, OpenAPI, "Search", served)
}
