package entries

import (
	"net/http"
	"strconv"

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
	values []string
}

func ifMatch(r *http.Request) precondition {
	return precondition{values: r.Header.Values("If-Match")}
}

// allows reports whether a write may change the entry at version.
func (p precondition) allows(version int) bool {
	return len(p.values) == 0 || httpapi.MatchesETag(p.values, etag(version), false)
}
