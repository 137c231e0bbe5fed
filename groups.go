package diary

import (
	"context"
	"net/http"
	"strings"
)

// groups are the endpoint groups behind the gateway, by name (also the metrics label and
// the function's directory). A group serves the path segment after /api/v1 that is its
// name, or, when it lists segments, each of those (archive serves /api/v1/export and
// /api/v1/imports). The upstream variable is the upper-cased name + "_URL". The gateway
// imports none of their functions: in the cluster it proxies to them, and cmd/diary hands
// it the functions to run in-process (NewInProcess).
var groups = []group{{name: "auth"}, {name: "entries"}, {name: "media"}, {name: "jobs"},
	{name: "search"}, {name: "integrations"}, {name: "archive", segments: []string{"export", "imports"}}}

// Groups returns the names of the endpoint groups the gateway routes, in the order their
// OpenAPI fragments are merged.
func Groups() []string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	return names
}

// HTTPFunction is an HTTP function the gateway can run in its own process; its Start, Stop
// and Ready hooks are optional, as under func-go.
type HTTPFunction interface {
	Handle(http.ResponseWriter, *http.Request)
}

// The optional hooks of an in-process function, as func-go (and shared/host) call them.
type (
	starter interface {
		Start(ctx context.Context, env map[string]string) error
	}
	stopper interface {
		Stop(ctx context.Context) error
	}
	readinessReporter interface {
		Ready(ctx context.Context) (bool, error)
	}
)

// group is one endpoint group.
type group struct {
	name string
	// segments are the path segments after /api/v1 the group serves; none means its name.
	segments []string
}

// prefixes are the paths the group serves, each with everything under it.
func (g group) prefixes() []string {
	segs := g.segments
	if len(segs) == 0 {
		segs = []string{g.name}
	}
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = "/api/v1/" + s
	}
	return out
}

// urlVar names the setting that points the group at an upstream.
func (g group) urlVar() string { return strings.ToUpper(g.name) + "_URL" }

// owns reports whether path is one of the group's prefixes or under one.
func (g group) owns(path string) bool {
	for _, p := range g.prefixes() {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
