package media

import (
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var served []string
	for _, rt := range routeTable(&server{}) {
		served = append(served, rt.Method+" "+basePath+rt.Path)
	}
	testenv.WantOpenAPIFragment(t, OpenAPI, "Media", served)
}
