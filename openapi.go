package diary

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// rootOpenAPI is the gateway's own part of the document: info, the security scheme, the
// Error schema and the gateway's routes. The groups' fragments are merged into it.
//
//go:embed openapi.json
var rootOpenAPI []byte

// document is an OpenAPI 3.1 document, decoded only as deep as merging needs.
type document struct {
	OpenAPI           string                                `json:"openapi"`
	Info              json.RawMessage                       `json:"info"`
	JSONSchemaDialect string                                `json:"jsonSchemaDialect,omitempty"`
	Servers           []server                              `json:"servers,omitempty"`
	Tags              []tag                                 `json:"tags,omitempty"`
	Paths             map[string]map[string]json.RawMessage `json:"paths"`
	Components        map[string]map[string]json.RawMessage `json:"components,omitempty"`
}

type server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

type tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// fragment is what a function exports as OpenAPI: its paths and components. A standalone
// header (openapi, info) is tolerated and ignored; anything else is refused so that nothing
// a function documents is silently dropped.
type fragment struct {
	OpenAPI    string                                `json:"openapi"`
	Info       json.RawMessage                       `json:"info"`
	Tags       []tag                                 `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// mergedOpenAPI is the served document and the routes it describes.
type mergedOpenAPI struct {
	raw   []byte
	table *routeTable
}

func (m mergedOpenAPI) routes() *routeTable { return m.table }

// buildOpenAPI merges the groups' fragments into the root document. It fails when a
// fragment is malformed, documents a path outside its group's prefix, or redefines a path
// or a component differently.
func buildOpenAPI(publicURL string, gs []group) (mergedOpenAPI, error) {
	var doc document
	if err := json.Unmarshal(rootOpenAPI, &doc); err != nil {
		return mergedOpenAPI{}, fmt.Errorf("openapi: root document: %w", err)
	}
	if publicURL != "" {
		doc.Servers = []server{{URL: strings.TrimRight(publicURL, "/"), Description: "the public API"}}
	}
	routes := routesOf(gatewayGroup, doc.Paths)
	for _, g := range gs {
		var frag fragment
		dec := json.NewDecoder(bytes.NewReader(g.openAPI))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&frag); err != nil {
			return mergedOpenAPI{}, fmt.Errorf("openapi: %s fragment: %w", g.name, err)
		}
		if len(frag.Paths) == 0 {
			return mergedOpenAPI{}, fmt.Errorf("openapi: %s fragment has no paths", g.name)
		}
		for path, item := range frag.Paths {
			if path != g.prefix() && !strings.HasPrefix(path, g.prefix()+"/") {
				return mergedOpenAPI{}, fmt.Errorf("openapi: %s documents %s, outside %s", g.name, path, g.prefix())
			}
			if _, dup := doc.Paths[path]; dup {
				return mergedOpenAPI{}, fmt.Errorf("openapi: %s documents %s twice", g.name, path)
			}
			doc.Paths[path] = item
		}
		routes = append(routes, routesOf(g.name, frag.Paths)...)
		for kind, items := range frag.Components {
			if doc.Components[kind] == nil {
				doc.Components[kind] = map[string]json.RawMessage{}
			}
			for name, def := range items {
				if prev, dup := doc.Components[kind][name]; dup && !sameJSON(prev, def) {
					return mergedOpenAPI{}, fmt.Errorf("openapi: %s redefines components.%s.%s", g.name, kind, name)
				}
				doc.Components[kind][name] = def
			}
		}
		for _, t := range frag.Tags {
			if !slices.ContainsFunc(doc.Tags, func(have tag) bool { return have.Name == t.Name }) {
				doc.Tags = append(doc.Tags, t)
			}
		}
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return mergedOpenAPI{}, fmt.Errorf("openapi: encode: %w", err)
	}
	table, err := newRouteTable(routes, gs)
	if err != nil {
		return mergedOpenAPI{}, fmt.Errorf("openapi: %w", err)
	}
	return mergedOpenAPI{raw: append(raw, '\n'), table: table}, nil
}

// routesOf lists the operations of paths as routes of group.
func routesOf(group string, paths map[string]map[string]json.RawMessage) []route {
	var out []route
	for path, item := range paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				out = append(out, route{group: group, method: strings.ToUpper(key), path: path})
			}
		}
	}
	slices.SortFunc(out, func(a, b route) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
	return out
}

// sameJSON reports whether two JSON values are equal, ignoring layout and key order.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, errA := json.Marshal(va)
	cb, errB := json.Marshal(vb)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}
