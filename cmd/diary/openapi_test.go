package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xmojo/diary"
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
	h := startGateway(t, diary.New(), proxiedEnv("http://127.0.0.1:9"))
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
	for _, path := range []string{"/health", "/api/v1/openapi.json"} {
		if doc.Paths[path]["get"] == nil {
			t.Errorf("paths lacks GET %s", path)
		}
	}
	if doc.Paths["/metrics"] != nil {
		t.Errorf("paths has /metrics, which the public host does not serve")
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
		// DELETE /api/v1/auth/me is the one DELETE with a body: API.md has the account's
		// deletion confirmed with the password, {password}, which must not travel in a URL.
		if (method == "GET" || method == "DELETE") && len(op.RequestBody) > 0 && name != "DELETE /api/v1/auth/me" {
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
	"jobs":   {"GET /api/v1/jobs/{}"},
	"search": {"POST /api/v1/search", "POST /api/v1/search/index", "GET /api/v1/search/stats"},
	"integrations": {
		"POST /api/v1/integrations/facebook/connect", "POST /api/v1/integrations/facebook/callback",
		"POST /api/v1/integrations/facebook/push", "POST /api/v1/integrations/facebook/pull",
		"GET /api/v1/integrations", "DELETE /api/v1/integrations/{}", "GET /api/v1/integrations/facebook/pages",
		"POST /api/v1/integrations/facebook/data-deletion",
	},
	"archive": {
		"GET /api/v1/export", "POST /api/v1/imports", "POST /api/v1/imports/{}/start",
		"GET /api/v1/imports/{}", "GET /api/v1/imports",
	},
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

func TestOpenAPIDescribesAPIRoutes(t *testing.T) {
	doc := openAPIDocument(t)
	documented := map[string]bool{}
	for name := range doc.operations(t) {
		documented[pathParam.ReplaceAllString(name, "{}")] = true
	}
	for _, name := range diary.Groups() {
		want, ok := apiRoutes[name]
		if !ok {
			t.Errorf("group %s: add its API.md routes to apiRoutes", name)
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
// Every answer, of every group, says Cache-Control: no-store.
func TestEveryDocumentedRouteIsServed(t *testing.T) {
	h := startGateway(t, diary.NewInProcess(groupFunctions()), inProcessEnv(t))
	// Addresses of their own, so the probes never eat into the login rate limit of
	// another package's tests running at the same time.
	probe := fromOwnAddresses(t, h)
	doc := openAPIDocument(t)
	const id = "5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f"

	probes := map[string]bool{}
	for name := range doc.operations(t) {
		probes[name] = true
	}
	for _, routes := range apiRoutes {
		for _, route := range routes {
			probes[route] = true
		}
	}
	for name := range probes {
		method, path, _ := strings.Cut(name, " ")
		if path == "/health" || path == "/api/v1/openapi.json" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var body any
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
				body = "{}"
			}
			res := testenv.Do(t, probe, method, fillPath(path, id), "", body)
			if res.Code == http.StatusNotFound || res.Code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d %s: the route is documented but not served", method, fillPath(path, id), res.Code, res.Body)
			}
			wantNoStore(t, res)
		})
	}
	for _, name := range diary.Groups() {
		t.Run("undocumented "+name, func(t *testing.T) {
			res := testenv.Do(t, h, http.MethodGet, "/api/v1/"+name+"/no-such-route/"+id+"/x", "", nil)
			if res.Code != http.StatusNotFound {
				t.Errorf("GET an undocumented route of %s = %d %s, want 404", name, res.Code, res.Body)
			}
			wantNoStore(t, res)
		})
	}
}

// TestUnservedRequestsAnswerAlike: every function, and the gateway itself, answers a
// documented path under a method it does not take with the same 405, whose Allow header
// lists exactly the methods the document gives that path (with HEAD beside GET, which
// answers it), and a path it does not serve with the same 404.
func TestUnservedRequestsAnswerAlike(t *testing.T) {
	h := startGateway(t, diary.NewInProcess(groupFunctions()), inProcessEnv(t))
	doc := openAPIDocument(t)
	const id = "5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f"
	type errorBody struct{ Detail, Code string }
	answers := map[int]map[errorBody][]string{http.StatusMethodNotAllowed: {}, http.StatusNotFound: {}}
	check := func(method, path string, want int, wantAllow string) {
		t.Helper()
		res := testenv.Do(t, h, method, path, "", nil)
		if res.Code != want || res.Header().Get("Allow") != wantAllow {
			t.Errorf("%s %s = %d Allow %q %s, want %d Allow %q", method, path, res.Code, res.Header().Get("Allow"), res.Body, want, wantAllow)
			return
		}
		var e errorBody
		decodeJSON(t, res.Body.Bytes(), &e)
		answers[want][e] = append(answers[want][e], method+" "+path)
	}
	for path, item := range doc.Paths {
		var allow []string
		for key := range item {
			if isMethod(key) {
				allow = append(allow, strings.ToUpper(key))
			}
		}
		if slices.Contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		slices.Sort(allow)
		check(http.MethodPatch, fillPath(path, id), http.StatusMethodNotAllowed, strings.Join(allow, ", "))
	}
	for _, name := range diary.Groups() {
		check(http.MethodGet, "/api/v1/"+name+"/no-such-route/"+id+"/x", http.StatusNotFound, "")
	}
	check(http.MethodGet, "/api/v1/no-such-group", http.StatusNotFound, "")
	for status, bodies := range answers {
		if len(bodies) != 1 {
			t.Errorf("the %d answers differ: %v", status, bodies)
		}
	}
}

// TestCommittedOpenAPIIsTheMerge: the openapi.json the gateway serves is exactly the merge
// of the functions' fragments as they are now; `go generate` at the root refreshes it.
func TestCommittedOpenAPIIsTheMerge(t *testing.T) {
	merged, err := mergedOpenAPI()
	if err != nil {
		t.Fatalf("mergedOpenAPI() = %v", err)
	}
	committed, err := os.ReadFile(filepath.Join(repoRoot, "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, merged) {
		t.Errorf("openapi.json differs from the merge of the functions' fragments: run `go generate` at the repository root and commit it")
	}
}

// isMethod reports whether key of an OpenAPI path item is an operation.
func isMethod(key string) bool {
	return slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, key)
}

// fillPath replaces every {param} of an OpenAPI path template with value.
func fillPath(template, value string) string {
	return pathParam.ReplaceAllString(template, value)
}

// decodeJSON is json.Unmarshal that fails the test.
func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
}
