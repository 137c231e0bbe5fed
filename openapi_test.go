package diary

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// openAPIDoc is the served document decoded for the checks below.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Info       map[string]any                        `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]map[string]any  `json:"securitySchemes"`
	} `json:"components"`
	Security []map[string][]string `json:"security"`
	raw      []byte
}

type operation struct {
	OperationID string                 `json:"operationId"`
	Parameters  []parameter            `json:"parameters"`
	Security    *[]map[string][]string `json:"security"`
	RequestBody json.RawMessage        `json:"requestBody"`
	Responses   map[string]struct {
		Description *string `json:"description"`
		Ref         string  `json:"$ref"`
	} `json:"responses"`
}

type parameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
	Ref      string `json:"$ref"`
}

// openAPIDocument fetches /api/v1/openapi.json from a gateway (proxied, so no services
// are needed) and decodes it.
func openAPIDocument(t *testing.T) openAPIDoc {
	t.Helper()
	h := startGateway(t, proxiedEnv("http://127.0.0.1:9"))
	res := testenv.Do(t, h, http.MethodGet, "/api/v1/openapi.json/", "", nil)
	if res.Code != http.StatusOK || res.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json = %d %q", res.Code, res.Header().Get("Content-Type"))
	}
	var doc openAPIDoc
	doc.raw = res.Body.Bytes()
	decodeJSON(t, doc.raw, &doc)
	return doc
}

// operations lists the document's operations as "METHOD /path".
func (d openAPIDoc) operations(t *testing.T) map[string]operation {
	t.Helper()
	ops := map[string]operation{}
	for path, item := range d.Paths {
		var shared []parameter
		if raw, ok := item["parameters"]; ok {
			decodeJSON(t, raw, &shared)
		}
		for key, raw := range item {
			if !isMethod(key) {
				continue
			}
			var op operation
			decodeJSON(t, raw, &op)
			op.Parameters = append(op.Parameters, shared...)
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

func TestOpenAPIDocument(t *testing.T) {
	doc := openAPIDocument(t)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if doc.Info["title"] == "" || doc.Info["version"] == "" {
		t.Errorf("info = %v, want a title and a version", doc.Info)
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s["type"] != "http" || s["scheme"] != "bearer" || s["bearerFormat"] != "JWT" {
		t.Errorf("securitySchemes.bearerAuth = %v, want http bearer JWT", s)
	}
	var errSchema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	decodeJSON(t, doc.Components.Schemas["Error"], &errSchema)
	if !slices.Equal(errSchema.Required, []string{"detail", "code"}) || errSchema.Properties["fields"] == nil {
		t.Errorf("schemas.Error = %s, want {detail, code, fields?}", doc.Components.Schemas["Error"])
	}
	for _, path := range []string{"/health", "/metrics", "/api/v1/openapi.json"} {
		if doc.Paths[path]["get"] == nil {
			t.Errorf("paths lacks GET %s", path)
		}
	}

	opIDs := map[string]string{}
	for name, op := range doc.operations(t) {
		method, path, _ := strings.Cut(name, " ")
		if !strings.HasPrefix(path, "/") {
			t.Errorf("%s: a path must start with /", name)
		}
		if op.OperationID != "" {
			if prev, dup := opIDs[op.OperationID]; dup {
				t.Errorf("%s: operationId %q also used by %s", name, op.OperationID, prev)
			}
			opIDs[op.OperationID] = name
		}
		// Every path template parameter is declared as a required path parameter.
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !slices.ContainsFunc(op.Parameters, func(p parameter) bool {
				return (p.In == "path" && p.Name == m[1] && p.Required) || p.Ref != ""
			}) {
				t.Errorf("%s: path parameter %q is not declared (in: path, required: true)", name, m[1])
			}
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses", name)
		}
		for status, r := range op.Responses {
			if _, err := strconv.Atoi(status); err != nil && status != "default" && !regexp.MustCompile(`^[1-5]XX$`).MatchString(status) {
				t.Errorf("%s: response key %q is not a status", name, status)
			}
			if r.Ref == "" && r.Description == nil {
				t.Errorf("%s: response %s has no description", name, status)
			}
		}
		security := doc.Security
		if op.Security != nil {
			security = *op.Security
		}
		for _, req := range security {
			for scheme := range req {
				if doc.Components.SecuritySchemes[scheme] == nil {
					t.Errorf("%s: security names %q, not in components.securitySchemes", name, scheme)
				}
				if scheme == "bearerAuth" {
					if _, ok := op.Responses["401"]; !ok {
						t.Errorf("%s: needs bearerAuth but documents no 401", name)
					}
				}
			}
		}
		if (method == "GET" || method == "DELETE") && len(op.RequestBody) > 0 {
			t.Errorf("%s: a %s has no request body", name, method)
		}
	}

	// Every local $ref resolves.
	var whole any
	decodeJSON(t, doc.raw, &whole)
	for _, ref := range refsIn(whole) {
		if !strings.HasPrefix(ref, "#/") {
			t.Errorf("$ref %q is not local to the document", ref)
			continue
		}
		if _, err := resolvePointer(whole, ref[1:]); err != nil {
			t.Errorf("$ref %q: %v", ref, err)
		}
	}
}

// refsIn returns every $ref value in v.
func refsIn(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && k == "$ref" {
				out = append(out, s)
				continue
			}
			out = append(out, refsIn(child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, refsIn(child)...)
		}
	}
	return out
}

// resolvePointer follows a JSON pointer (RFC 6901) into v.
func resolvePointer(v any, pointer string) (any, error) {
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not inside an object", tok)
		}
		if v, ok = m[tok]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return v, nil
}

// apiRoutes are the calls API.md defines, by group. Each group the gateway mounts must
// document and serve all of its own.
var apiRoutes = map[string][]string{
	"auth": {
		"POST /api/v1/auth/signup", "POST /api/v1/auth/login", "POST /api/v1/auth/refresh",
		"GET /api/v1/auth/me", "GET /api/v1/auth/features", "POST /api/v1/auth/verify-recovery-code",
		"POST /api/v1/auth/logout",
	},
	"entries": {
		"POST /api/v1/entries", "GET /api/v1/entries", "GET /api/v1/entries/{}", "PUT /api/v1/entries/{}",
		"DELETE /api/v1/entries/{}", "POST /api/v1/entries/{}/restore", "GET /api/v1/entries/{}/history",
	},
	"media": {
		"POST /api/v1/media/upload", "POST /api/v1/media/{}/complete", "GET /api/v1/media",
		"GET /api/v1/media/{}", "GET /api/v1/media/{}/download", "DELETE /api/v1/media/{}",
	},
	"jobs": {"GET /api/v1/jobs/{}"},
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

func TestOpenAPIDescribesAPIRoutes(t *testing.T) {
	doc := openAPIDocument(t)
	documented := map[string]bool{}
	for name := range doc.operations(t) {
		documented[pathParam.ReplaceAllString(name, "{}")] = true
	}
	for _, g := range groups {
		want, ok := apiRoutes[g.name]
		if !ok {
			t.Errorf("group %s: add its API.md routes to apiRoutes", g.name)
		}
		for _, route := range want {
			if !documented[route] {
				t.Errorf("%s is not in /api/v1/openapi.json", route)
			}
		}
	}
}

// TestEveryDocumentedRouteIsServed sends each documented operation, and each route of
// API.md, to the in-process functions without a token: a served route answers 401 (or,
// for an open one, a validation error), never the 404 or 405 of a route that does not
// exist. An undocumented path under each group shows the probe can tell the difference.
func TestEveryDocumentedRouteIsServed(t *testing.T) {
	env := testenv.Env(t)
	for _, g := range groups {
		delete(env, g.urlVar())
	}
	h := startGateway(t, env)
	doc := openAPIDocument(t)
	const id = "5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f"

	probes := map[string]bool{}
	for name := range doc.operations(t) {
		probes[name] = true
	}
	for _, g := range groups {
		for _, route := range apiRoutes[g.name] {
			probes[route] = true
		}
	}
	for name := range probes {
		method, path, _ := strings.Cut(name, " ")
		if path == "/metrics" || path == "/health" || path == "/api/v1/openapi.json" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(method, fillPath(path, id), nil)
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
				req = httptest.NewRequest(method, fillPath(path, id), strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
			}
			// An address of its own, so the probes never eat into the login rate limit
			// of another package's tests running at the same time.
			req.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", 1+rand.IntN(254))
			res := testenv.Response{ResponseRecorder: httptest.NewRecorder()}
			h.ServeHTTP(res, req)
			if res.Code == http.StatusNotFound || res.Code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d %s: the route is documented but not served", method, fillPath(path, id), res.Code, res.Body)
			}
		})
	}
	for _, g := range groups {
		t.Run("undocumented "+g.name, func(t *testing.T) {
			res := testenv.Do(t, h, http.MethodGet, g.prefix()+"/no-such-route/"+id+"/x", "", nil)
			wantError(t, res, http.StatusNotFound, "not_found")
		})
	}
}

func TestBuildOpenAPIRejectsBadFragments(t *testing.T) {
	okPath := `"/api/v1/probe/x":{"get":{"responses":{"200":{"description":"ok"}}}}`
	for _, tc := range []struct {
		name     string
		fragment string
		want     string
	}{
		{"not JSON", `{`, "probe fragment"},
		{"no paths", `{"paths":{}}`, "no paths"},
		{"unknown key", `{"paths":{` + okPath + `},"webhooks":{}}`, "webhooks"},
		{"outside prefix", `{"paths":{"/api/v1/other":{"get":{}}}}`, "outside /api/v1/probe"},
		{"prefix lookalike", `{"paths":{"/api/v1/probex":{"get":{}}}}`, "outside /api/v1/probe"},
		{"redefines root schema", `{"paths":{` + okPath + `},"components":{"schemas":{"Error":{"type":"string"}}}}`, "components.schemas.Error"},
		{"bad route template", `{"paths":{"/api/v1/probe/{id}.json":{"get":{}}}}`, "route GET /api/v1/probe/{id}.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := group{name: "probe", openAPI: []byte(tc.fragment)}
			_, err := buildOpenAPI("", []group{g})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("buildOpenAPI(%s) = %v, want an error mentioning %q", tc.fragment, err, tc.want)
			}
		})
	}

	t.Run("identical shared schema and public URL", func(t *testing.T) {
		var root struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		decodeJSON(t, rootOpenAPI, &root)
		frag := `{"openapi":"3.1.0","paths":{` + okPath + `},"components":{"schemas":{"Error":` + string(root.Components.Schemas["Error"]) + `}}}`
		doc, err := buildOpenAPI("https://diary.example.com/", []group{{name: "probe", openAPI: []byte(frag)}})
		if err != nil {
			t.Fatalf("buildOpenAPI() = %v, want the identical Error schema accepted", err)
		}
		var got struct {
			Servers []server `json:"servers"`
		}
		decodeJSON(t, doc.raw, &got)
		if len(got.Servers) != 1 || got.Servers[0].URL != "https://diary.example.com" {
			t.Errorf("servers = %+v, want [https://diary.example.com]", got.Servers)
		}
	})
}
