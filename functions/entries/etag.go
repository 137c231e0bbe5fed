package entries

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xmojo/diary/shared/httpapi"
)

// errVersionMismatch answers a write whose If-Match names none of the entry's version.
var errVersionMismatch = httpapi.NewError(http.StatusPreconditionFailed, "version_mismatch",
	"the entry has changed since you read it; fetch it again and retry")

// etag is the entity tag of an entry version: "<version>".
func etag(version int) string {
	return `"` + strconv.Itoa(version) + `"`
}

// precondition is a request's If-Match. With no header, or "*", any version is allowed.
// Otherwise only the versions it names: weak tags never match (If-Match compares strongly),
// and a tag that is not an entry version matches nothing, so a malformed If-Match is a 412.
type precondition struct {
	set      bool
	versions []int
}

func ifMatch(r *http.Request) precondition {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return precondition{}
	}
	p := precondition{set: true}
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return precondition{}
			}
			if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				continue
			}
			n, err := strconv.Atoi(tag[1 : len(tag)-1])
			if err == nil && n > 0 && strconv.Itoa(n) == tag[1:len(tag)-1] {
				p.versions = append(p.versions, n)
			}
		}
	}
	return p
}

// allows reports whether a write may change the entry at version.
func (p precondition) allows(version int) bool {
	return !p.set || slices.Contains(p.versions, version)
}
