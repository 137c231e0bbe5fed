package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/xmojo/diary"
)

// repoRoot is the repository's root, seen from this package: the paths below are relative
// to it.
const repoRoot = "../.."

// funcSchemaPath is knative/func's func.yaml schema (tag knative-v1.23.1), copied into the
// repository so the check runs in any clone.
const funcSchemaPath = "knative/schema/func_yaml-schema.json"

// funcYAMLs are the repository's function descriptors: the gateway's and each function's.
func funcYAMLs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "functions/*/func.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"func.yaml"}
	for _, f := range files {
		rel, err := filepath.Rel(repoRoot, f)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, rel)
	}
	return paths
}

// readYAML reads a YAML file as the JSON value it denotes.
func readYAML(t *testing.T, path string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func TestFuncYAMLsMatchSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, funcSchemaPath))
	if err != nil {
		t.Fatalf("the func.yaml schema: %v", err)
	}
	var schema map[string]any
	decodeJSON(t, raw, &schema)
	for _, path := range funcYAMLs(t) {
		t.Run(path, func(t *testing.T) {
			v := schemaValidator{root: schema}
			v.validate("", schema, readYAML(t, path))
			for _, e := range v.errs {
				t.Error(e)
			}
		})
	}
}

// schemaValidator checks a value against the JSON Schema (draft 4) subset func's schema
// uses; a keyword it does not know is an error, so nothing is skipped silently.
type schemaValidator struct {
	root map[string]any
	errs []string
}

func (v *schemaValidator) fail(at, format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf("%s: %s", cmpOr(at, "(root)"), fmt.Sprintf(format, args...)))
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (v *schemaValidator) validate(at string, schema map[string]any, value any) {
	if ref, ok := schema["$ref"].(string); ok {
		target, err := resolvePointer(v.root, strings.TrimPrefix(ref, "#"))
		if err != nil {
			v.fail(at, "$ref %s: %v", ref, err)
			return
		}
		v.validate(at, target.(map[string]any), value)
	}
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		kw := schema[key]
		switch key {
		case "$ref", "$schema", "definitions", "description", "title", "properties", "patternProperties":
		case "type":
			if !hasType(value, kw.(string)) {
				v.fail(at, "%v is not of type %s", value, kw)
				return
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return e == value }) {
				v.fail(at, "%v is not one of %v", value, kw)
			}
		case "pattern":
			if s, ok := value.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(s) {
				v.fail(at, "%q does not match %s", s, kw)
			}
		case "format":
			if s, ok := value.(string); ok && kw == "date-time" {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					v.fail(at, "%q is not a date-time", s)
				}
			}
		case "minimum":
			if n, ok := value.(float64); ok && n < kw.(float64) {
				v.fail(at, "%v is below %v", n, kw)
			}
		case "maximum":
			if n, ok := value.(float64); ok && n > kw.(float64) {
				v.fail(at, "%v is above %v", n, kw)
			}
		case "required":
			obj, _ := value.(map[string]any)
			for _, name := range kw.([]any) {
				if _, ok := obj[name.(string)]; obj != nil && !ok {
					v.fail(at, "%s is required", name)
				}
			}
		case "items":
			arr, _ := value.([]any)
			for i, item := range arr {
				v.validate(fmt.Sprintf("%s[%d]", at, i), kw.(map[string]any), item)
			}
		case "additionalProperties":
			obj, ok := value.(map[string]any)
			if !ok {
				continue
			}
			for name, child := range obj {
				if v.known(schema, name) {
					continue
				}
				switch ap := kw.(type) {
				case bool:
					if !ap {
						v.fail(at, "unknown field %q", name)
					}
				case map[string]any:
					v.validate(at+"."+name, ap, child)
				}
			}
		case "oneOf":
			matched := 0
			for _, alt := range kw.([]any) {
				sub := schemaValidator{root: v.root}
				sub.validate(at, alt.(map[string]any), value)
				if len(sub.errs) == 0 {
					matched++
				}
			}
			if matched != 1 {
				v.fail(at, "matches %d of oneOf's schemas, want exactly 1", matched)
			}
		default:
			v.fail(at, "the test's validator does not know the keyword %q", key)
		}
	}
	if obj, ok := value.(map[string]any); ok {
		props, _ := schema["properties"].(map[string]any)
		patterns, _ := schema["patternProperties"].(map[string]any)
		for name, child := range obj {
			if p, ok := props[name]; ok {
				v.validate(at+"."+name, p.(map[string]any), child)
			}
			for pattern, p := range patterns {
				if regexp.MustCompile(pattern).MatchString(name) {
					v.validate(at+"."+name, p.(map[string]any), child)
				}
			}
		}
	}
}

// known reports whether properties or patternProperties of schema cover name.
func (v *schemaValidator) known(schema map[string]any, name string) bool {
	if props, ok := schema["properties"].(map[string]any); ok {
		if _, ok := props[name]; ok {
			return true
		}
	}
	patterns, _ := schema["patternProperties"].(map[string]any)
	for pattern := range patterns {
		if regexp.MustCompile(pattern).MatchString(name) {
			return true
		}
	}
	return false
}

func hasType(value any, typ string) bool {
	switch typ {
	case "object":
		_, ok := value.(map[string]any)
		return ok
	case "array":
		_, ok := value.([]any)
		return ok
	case "string":
		_, ok := value.(string)
		return ok
	case "boolean":
		_, ok := value.(bool)
		return ok
	case "number":
		_, ok := value.(float64)
		return ok
	case "integer":
		n, ok := value.(float64)
		return ok && n == math.Trunc(n)
	}
	return false
}

func TestSchemaValidatorCatchesErrors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, funcSchemaPath))
	if err != nil {
		t.Fatalf("the func.yaml schema: %v", err)
	}
	var schema map[string]any
	decodeJSON(t, raw, &schema)
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "specVersion: 0.36.0\ncreated: 2026-01-01T00:00:00Z\nbuilder: pack\n", `unknown field "builder"`},
		{"missing created", "specVersion: 0.36.0\n", "created is required"},
		{"bad builder", "specVersion: 0.36.0\ncreated: 2026-01-01T00:00:00Z\nbuild: {builder: host}\n", "is not one of"},
		{"label map", "specVersion: 0.36.0\ncreated: 2026-01-01T00:00:00Z\ndeploy: {labels: {a: b}}\n", "is not of type array"},
		{"negative scale", "specVersion: 0.36.0\ncreated: 2026-01-01T00:00:00Z\ndeploy: {options: {scale: {min: -1}}}\n", "is below 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := yaml.YAMLToJSON([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			decodeJSON(t, js, &doc)
			v := schemaValidator{root: schema}
			v.validate("", schema, doc)
			if !slices.ContainsFunc(v.errs, func(e string) bool { return strings.Contains(e, tc.want) }) {
				t.Errorf("validate(%q) = %q, want an error with %q", tc.yaml, v.errs, tc.want)
			}
		})
	}
}

var settingRef = regexp.MustCompile(`\{\{\s*(secret|configMap):([^:}\s]+):([^}\s]+)\s*\}\}`)

// TestFuncYAMLsReferenceKnownSettings checks that every Secret and ConfigMap key a
// func.yaml names exists in knative/: a missing key keeps a revision from starting.
func TestFuncYAMLsReferenceKnownSettings(t *testing.T) {
	keysOf := func(path, field string) map[string]bool {
		obj, _ := readYAML(t, path).(map[string]any)
		data, _ := obj[field].(map[string]any)
		if len(data) == 0 {
			t.Fatalf("%s has no %s", path, field)
		}
		keys := map[string]bool{}
		for k := range data {
			keys[k] = true
		}
		return keys
	}
	known := map[string]map[string]bool{
		"configMap:diary-config": keysOf("knative/base/config.yaml", "data"),
		"secret:diary-secrets":   keysOf("knative/secret.template.yaml", "stringData"),
	}
	for _, path := range funcYAMLs(t) {
		raw, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range settingRef.FindAllStringSubmatch(string(raw), -1) {
			keys, ok := known[m[1]+":"+m[2]]
			if !ok {
				t.Errorf("%s: %s names %s %s, which knative/ does not define", path, m[0], m[1], m[2])
				continue
			}
			if !keys[m[3]] {
				t.Errorf("%s: %s: key %s is not in %s", path, m[0], m[3], m[2])
			}
		}
	}
}

// TestFuncYAMLRoutesToClusterLocalGroups checks the gateway's deployment: every group in
// the table is proxied to its cluster-local service, and the group functions themselves
// are not public.
func TestFuncYAMLRoutesToClusterLocalGroups(t *testing.T) {
	var root struct {
		Name string `json:"name"`
		Run  struct {
			Envs []struct{ Name, Value string } `json:"envs"`
		} `json:"run"`
		Deploy struct {
			Labels []struct{ Key, Value string } `json:"labels"`
		} `json:"deploy"`
	}
	raw, _ := json.Marshal(readYAML(t, "func.yaml"))
	decodeJSON(t, raw, &root)
	if root.Name != "diary" {
		t.Errorf("func.yaml name = %q, want diary", root.Name)
	}
	for _, l := range root.Deploy.Labels {
		if l.Key == "networking.knative.dev/visibility" {
			t.Errorf("func.yaml: the gateway is the public entry point, but has label %s=%s", l.Key, l.Value)
		}
	}
	env := map[string]string{}
	for _, e := range root.Run.Envs {
		env[e.Name] = e.Value
	}
	for _, name := range diary.Groups() {
		urlVar := strings.ToUpper(name) + "_URL"
		// In the manifests' namespace; scripts/deploy rewrites it to the target's.
		want := "http://" + name + ".diary.svc.cluster.local"
		if env[urlVar] != want {
			t.Errorf("func.yaml: %s = %q, want %q", urlVar, env[urlVar], want)
		}
		path := filepath.Join("functions", name, "func.yaml")
		if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
			continue // not written yet; the schema test covers it once it is
		}
		var fn struct {
			Name   string `json:"name"`
			Deploy struct {
				Namespace string                        `json:"namespace"`
				Labels    []struct{ Key, Value string } `json:"labels"`
			} `json:"deploy"`
		}
		raw, _ := json.Marshal(readYAML(t, path))
		decodeJSON(t, raw, &fn)
		local := slices.ContainsFunc(fn.Deploy.Labels, func(l struct{ Key, Value string }) bool {
			return l.Key == "networking.knative.dev/visibility" && l.Value == "cluster-local"
		})
		// No namespace in func.yaml: scripts/deploy passes `func deploy --namespace`, and a
		// recorded deploy.namespace would make func undeploy from it (knative/func's deploy).
		if fn.Name != name || fn.Deploy.Namespace != "" || !local {
			t.Errorf("%s: name %q, deploy.namespace %q, cluster-local %v; want %s, no namespace, cluster-local", path, fn.Name, fn.Deploy.Namespace, local, name)
		}
	}
}
