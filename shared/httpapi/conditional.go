package httpapi

import (
	"net/http"
	"strings"
)

// MatchesETag reports whether an If-Match or If-None-Match field (all its lines) matches
// etag, the entity tag of the current representation (RFC 9110, section 13.1): "*"
// matches any current representation; otherwise one of the listed entity tags must equal
// etag by the strong comparison (If-Match: both strong and the same) or, when weak, by the
// weak one (If-None-Match: the same opaque tag, W/ or not). Parsing stops at the first
// element that is not an entity tag, so a malformed list matches at most what came before.
func MatchesETag(values []string, etag string, weak bool) bool {
	want, ok := parseETag(etag)
	if !ok {
		return false
	}
	for _, v := range values {
		rest := v
		for {
			rest = strings.TrimLeft(rest, " \t,")
			if rest == "" {
				break
			}
			if rest[0] == '*' {
				return len(rest) == 1 || strings.ContainsRune(" \t,", rune(rest[1]))
			}
			tag, n := scanETag(rest)
			if n == 0 {
				break
			}
			if tag.opaque == want.opaque && (weak || !tag.weak && !want.weak) {
				return true
			}
			rest = rest[n:]
		}
	}
	return false
}

// NotModified answers a GET or HEAD whose If-None-Match matches etag (weak comparison,
// RFC 9110 section 13.1.2) with 304 Not Modified and etag as the ETag, no body, and
// reports true; the handler then writes nothing more. Call it once the resource is known
// to exist and be the caller's, and after every check that would refuse the request
// without the header (section 13.2.1), but before the work of rendering it. Other methods
// are never answered here: for them a matching If-None-Match would be a 412.
func NotModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if !MatchesETag(r.Header.Values("If-None-Match"), etag, true) {
		return false
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusNotModified)
	return true
}

// entityTag is an entity-tag: an opaque tag, weak or strong.
type entityTag struct {
	weak   bool
	opaque string // with its quotes
}

// parseETag parses s as exactly one entity tag.
func parseETag(s string) (entityTag, bool) {
	tag, n := scanETag(s)
	return tag, n > 0 && n == len(s)
}

// scanETag reads the entity tag at the start of s (entity-tag = [ "W/" ] DQUOTE *etagc
// DQUOTE; etagc is any visible character but DQUOTE, or obs-text) and returns it with the
// bytes it took, or 0 when s does not start with one.
func scanETag(s string) (entityTag, int) {
	var tag entityTag
	i := 0
	if strings.HasPrefix(s, "W/") {
		tag.weak, i = true, 2
	}
	if i >= len(s) || s[i] != '"' {
		return entityTag{}, 0
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			tag.opaque = s[i : j+1]
			return tag, j + 1
		case c < 0x21 || c == 0x7f:
			return entityTag{}, 0
		}
	}
	return entityTag{}, 0
}
