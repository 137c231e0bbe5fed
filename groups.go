package diary

import (
	"net/http"
	"strings"

	"github.com/xmojo/diary/functions/auth"
	"github.com/xmojo/diary/functions/entries"
	"github.com/xmojo/diary/functions/jobs"
	"github.com/xmojo/diary/functions/media"
)

// groups are the endpoint groups behind the gateway, one line each: the path segment after
// /api/v1 (also the metrics label), the function's OpenAPI fragment and its constructor.
// The upstream variable is the upper-cased name + "_URL".
var groups = []group{
	newGroup("auth", auth.OpenAPI, auth.New),
	newGroup("entries", entries.OpenAPI, entries.New),
	newGroup("media", media.OpenAPI, media.New),
	newGroup("jobs", jobs.OpenAPI, jobs.New),
}

// httpFunction is an HTTP function the gateway can mount in-process; its Start, Stop and
// Ready hooks are optional, as under func-go.
type httpFunction interface {
	Handle(http.ResponseWriter, *http.Request)
}

// group is one endpoint group.
type group struct {
	name        string
	openAPI     []byte
	newFunction func() httpFunction
}

// newGroup makes a table row from a function package's exports.
func newGroup[F httpFunction](name string, openAPI []byte, newFunction func() F) group {
	return group{name: name, openAPI: openAPI, newFunction: func() httpFunction { return newFunction() }}
}

// prefix is the path the group serves, and everything under it.
func (g group) prefix() string { return "/api/v1/" + g.name }

// urlVar names the setting that points the group at an upstream.
func (g group) urlVar() string { return strings.ToUpper(g.name) + "_URL" }
