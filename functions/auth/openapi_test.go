package auth

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// routesServed are the function's routes; TestRoutesServed checks the handler serves each
// (and no other method on its path) and TestOpenAPI that the fragment describes each.
var routesServed = []struct {
	method, path  string
	authenticated bool
}{
	{"POST", "/api/v1/auth/signup", false},
	{"POST", "/api/v1/auth/login", false},
	{"POST", "/api/v1/auth/refresh", false},
	{"GET", "/api/v1/auth/me", true},
	{"GET", "/api/v1/auth/features", true},
	{"POST", "/api/v1/auth/verify-recovery-code", false},
	{"POST", "/api/v1/auth/logout", true},
	{"POST", "/api/v1/auth/change-password", true},
	{"POST", "/api/v1/auth/reset-password", false},
	{"POST", "/api/v1/auth/recovery-codes", true},
	{"GET", "/api/v1/auth/sessions", true},
	{"DELETE", "/api/v1/auth/sessions/{id}", true},
	{"POST", "/api/v1/auth/logout-all", true},
	{"PUT", "/api/v1/auth/key-backup", true},
	{"GET", "/api/v1/auth/key-backup", true},
	{"DELETE", "/api/v1/auth/me", true},
}

func TestRoutesServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, rt := range routesServed {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			resp := do(t, h.h, randomIP(t), rt.method, rt.path, "", nil)
			if resp.Code == http.StatusNotFound || resp.Code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want it served", rt.method, rt.path, resp.Code)
			}
			if rt.authenticated && resp.Code != http.StatusUnauthorized {
				t.Errorf("%s %s without a token = %d, want 401", rt.method, rt.path, resp.Code)
			}
		})
	}
}

func TestOpenAPI(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
		Tags       []struct{ Name, Description string }  `json:"tags"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("OpenAPI is not JSON: %v", err)
	}
	var described []string
	for path, item := range doc.Paths {
		for method := range item {
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, rt := range routesServed {
		served = append(served, rt.method+" "+rt.path)
		var op struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(doc.Paths[rt.path][strings.ToLower(rt.method)], &op); err != nil {
			t.Errorf("%s %s: %v", rt.method, rt.path, err)
			continue
		}
		if wantBearer := rt.authenticated; (len(op.Security) == 1 && op.Security[0]["bearerAuth"] != nil) != wantBearer || op.Security == nil {
			t.Errorf("%s %s security = %v, want bearerAuth %v (and an explicit [] when open)", rt.method, rt.path, op.Security, wantBearer)
		}
		if len(op.Responses) < 2 {
			t.Errorf("%s %s documents %d responses, want its success and errors", rt.method, rt.path, len(op.Responses))
		}
	}
	slices.Sort(described)
	slices.Sort(served)
	if !slices.Equal(described, served) {
		t.Errorf("OpenAPI describes %q, the function serves %q", described, served)
	}
	for name := range doc.Components["schemas"] {
		if name != "User" && !strings.HasPrefix(name, "Auth") {
			t.Errorf("schema %q is not prefixed Auth", name)
		}
	}
	for name := range doc.Components["responses"] {
		if !strings.HasPrefix(name, "Auth") {
			t.Errorf("response %q is not prefixed Auth", name)
		}
	}
	// Every reference resolves: to this fragment, or to the gateway's Error schema.
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/([^/"]+)/([^"]+)"`).FindAllStringSubmatch(string(OpenAPI), -1) {
		kind, name := m[1], m[2]
		if kind == "schemas" && name == "Error" {
			continue
		}
		if _, ok := doc.Components[kind][name]; !ok {
			t.Errorf("$ref #/components/%s/%s does not resolve", kind, name)
		}
	}
	if !strings.Contains(string(OpenAPI), `"#/components/schemas/Error"`) {
		t.Errorf("errors do not reference #/components/schemas/Error")
	}
}
