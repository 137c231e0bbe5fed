package diary

import (
	"context"
	"net/http"
	"strings"
)

// groups are the endpoint groups behind the gateway, by the path segment after /api/v1
// (also the metrics label). The upstream variable is the upper-cased name + "_URL". The
// gateway imports none of their functions: in the cluster it proxies to them, and cmd/diary
// hands it the functions to run in-process (NewInProcess).
var groups = []group{{"auth"}, {"entries"}, {"media"}, {"jobs"}, {"search"}, {"integrations"}}

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
}

// prefix is the path the group serves, and everything under it.
func (g group) prefix() string { return "/api/v1/" + g.name }

// urlVar names the setting that points the group at an upstream.
func (g group) urlVar() string { return strings.ToUpper(g.name) + "_URL" }

// owns reports whether path is the group's prefix or under it.
func (g group) owns(path string) bool {
	return path == g.prefix() || strings.HasPrefix(path, g.prefix()+"/")
}
