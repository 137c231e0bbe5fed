package archive

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
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
	for kind, names := range map[string]map[string]json.RawMessage{"schemas": doc.Components.Schemas, "responses": doc.Components.Responses} {
		for name := range names {
			if !strings.HasPrefix(name, "Archive") {
				t.Errorf("components.%s.%s: want the Archive prefix", kind, name)
			}
		}
	}
	// Every local reference resolves within the fragment, or to the gateway's Error.
	for _, ref := range strings.Split(string(OpenAPI), `"$ref": "`)[1:] {
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
