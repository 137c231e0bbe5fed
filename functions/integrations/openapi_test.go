package integrations

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPIFragmentMatchesTheRouteTable: every route served is documented and every
// documented operation is served, and the fragment's own names carry its prefix.
func TestOpenAPIFragmentMatchesTheRouteTable(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("OpenAPI is not JSON: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range routeTable(&server{}) {
		served[rt.Method+" "+basePath+rt.Path] = true
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("route %s is served but not in OpenAPI", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("OpenAPI documents %s, which is not served", r)
		}
	}
	for kind, names := range doc.Components {
		for name := range names {
			if !strings.HasPrefix(name, "Integration") {
				t.Errorf("components.%s.%s: want the Integration prefix", kind, name)
			}
		}
	}
}
