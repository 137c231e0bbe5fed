package testenv

import (
	"encoding/json"
	"strings"
	"testing"
)

// WantOpenAPIFragment checks a function's OpenAPI fragment against the routes it serves
// ("METHOD /full/path" each): every served route is documented and nothing else is, every
// component name starts with prefix, and every local $ref resolves within the fragment or
// to the gateway's Error schema.
func WantOpenAPIFragment(t testing.TB, fragment []byte, prefix string, served []string) {
	t.Helper()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(fragment, &doc); err != nil {
		t.Fatalf("OpenAPI is not JSON: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	isServed := map[string]bool{}
	for _, r := range served {
		isServed[r] = true
		if !documented[r] {
			t.Errorf("route %s is served but not in OpenAPI", r)
		}
	}
	for r := range documented {
		if !isServed[r] {
			t.Errorf("OpenAPI documents %s, which is not served", r)
		}
	}
	for kind, names := range map[string]map[string]json.RawMessage{"schemas": doc.Components.Schemas, "responses": doc.Components.Responses} {
		for name := range names {
			if !strings.HasPrefix(name, prefix) {
				t.Errorf("components.%s.%s: want the %s prefix", kind, name, prefix)
			}
		}
	}
	for _, ref := range strings.Split(string(fragment), `"$ref": "`)[1:] {
		ref = ref[:strings.Index(ref, `"`)]
		kind, name, _ := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
		var ok bool
		switch kind {
		case "schemas":
			_, ok = doc.Components.Schemas[name]
			ok = ok || name == "Error"
		case "responses":
			_, ok = doc.Components.Responses[name]
		}
		if !ok {
			t.Errorf("$ref %s does not resolve", ref)
		}
	}
}
