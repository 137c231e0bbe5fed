package diary

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// gatewayOpenAPI is the gateway's own part of the document: info, the security scheme, the
// Error schema and the gateway's routes. MergeOpenAPI merges the groups' fragments into it.
//
//go:embed openapi.gateway.json
var gatewayOpenAPI []byte

// servedOpenAPI is the document the gateway serves: MergeOpenAPI of the functions'
// fragments, committed as openapi.json, so the gateway links no function and the document
// changes only with a commit. `go generate` here rewrites it (through cmd/diary, the one
// module that imports every function); a test there fails when it differs from the merge.
//
//go:generate go run ./cmd/diary -write-openapi openapi.json
//go:embed openapi.json
var servedOpenAPI []byte

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
	// operations are the document's operations, for the CORS preflights' methods.
	operations []route
}

func (m mergedOpenAPI) routes() *routeTable { return m.table }

// MergeOpenAPI returns the document the gateway serves: its own part with each group's
// fragment (fragments, by group name) merged in, in the order of Groups. It fails when a
// group's fragment is missing, unknown or malformed, documents a path outside its group's
// prefix, or redefines a path or a component differently.
func MergeOpenAPI(fragments map[string][]byte) ([]byte, error) {
	for name := range fragments {
		if !slices.ContainsFunc(groups, func(g group) bool { return g.name == name }) {
			return nil, fmt.Errorf("openapi: %s is not a group of the gateway", name)
		}
	}
	doc, err := decodeDocument(gatewayOpenAPI)
	if err != nil {
		return nil, fmt.Errorf("openapi: gateway document: %w", err)
	}
	for _, g := range groups {
		raw, ok := fragments[g.name]
		if !ok {
			return nil, fmt.Errorf("openapi: no fragment for group %s", g.name)
		}
		if err := doc.merge(g, raw); err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
	}
	if _, err := newRouteTable(doc.routes(), groups); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return doc.encode()
}

// merge adds g's fragment to d.
func (d *document) merge(g group, raw []byte) error {
	var frag fragment
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&frag); err != nil {
		return fmt.Errorf("%s fragment: %w", g.name, err)
	}
	if len(frag.Paths) == 0 {
		return fmt.Errorf("%s fragment has no paths", g.name)
	}
	for path, item := range frag.Paths {
		if !g.owns(path) {
			return fmt.Errorf("%s documents %s, outside %s", g.name, path, strings.Join(g.prefixes(), " and "))
		}
		if _, dup := d.Paths[path]; dup {
			return fmt.Errorf("%s documents %s twice", g.name, path)
		}
		d.Paths[path] = item
	}
	for kind, items := range frag.Components {
		if d.Components[kind] == nil {
			d.Components[kind] = map[string]json.RawMessage{}
		}
		for name, def := range items {
			if prev, dup := d.Components[kind][name]; dup && !sameJSON(prev, def) {
				return fmt.Errorf("%s redefines components.%s.%s", g.name, kind, name)
			}
			d.Components[kind][name] = def
		}
	}
	for _, t := range frag.Tags {
		if !slices.ContainsFunc(d.Tags, func(have tag) bool { return have.Name == t.Name }) {
			d.Tags = append(d.Tags, t)
		}
	}
	return nil
}

// serveOpenAPI prepares the committed document for serving: with publicURL as its server
// when set, and the route table the metrics label requests by.
func serveOpenAPI(publicURL string) (mergedOpenAPI, error) {
	doc, err := decodeDocument(servedOpenAPI)
	if err != nil {
		return mergedOpenAPI{}, fmt.Errorf("openapi: openapi.json: %w", err)
	}
	if publicURL != "" {
		doc.Servers = []server{{URL: strings.TrimRight(publicURL, "/"), Description: "the public API"}}
	}
	operations := doc.routes()
	table, err := newRouteTable(operations, groups)
	if err != nil {
		return mergedOpenAPI{}, fmt.Errorf("openapi: %w", err)
	}
	raw, err := doc.encode()
	if err != nil {
		return mergedOpenAPI{}, err
	}
	return mergedOpenAPI{raw: raw, table: table, operations: operations}, nil
}

// decodeDocument reads a whole document; a top-level key the document type does not hold
// is refused, so that re-encoding never drops one.
func decodeDocument(raw []byte) (*document, error) {
	var doc document
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Paths == nil {
		doc.Paths = map[string]map[string]json.RawMessage{}
	}
	if doc.Components == nil {
		doc.Components = map[string]map[string]json.RawMessage{}
	}
	return &doc, nil
}

// encode writes d as the served bytes: indented, with a final newline.
func (d *document) encode() ([]byte, error) {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	return append(raw, '\n'), nil
}

// routes lists the document's operations, each under the group whose prefix holds its
// path, or the gateway's.
func (d *document) routes() []route {
	var out []route
	for _, rt := range routesOf(gatewayGroup, d.Paths) {
		for _, g := range groups {
			if g.owns(rt.path) {
				rt.group = g.name
				break
			}
		}
		out = append(out, rt)
	}
	return out
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
