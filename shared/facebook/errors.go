package facebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xmojo/diary/shared/outage"
)

// ErrUnavailable marks a Graph call that got no usable answer (network failure, timeout,
// an answer that is no Graph JSON): try again later. It is an outage.ErrUnavailable.
var ErrUnavailable = fmt.Errorf("facebook: graph unavailable: %w", outage.ErrUnavailable)

// Error is a Graph API error body, {"error": {"message", "type", "code", "error_subcode",
// "fbtrace_id"}}, as Facebook documents it.
type Error struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode"`
	FBTraceID string `json:"fbtrace_id"`
	// HTTPStatus is the answer's status.
	HTTPStatus int `json:"-"`
}

// Error implements error. The message is Facebook's own and holds no token.
func (e *Error) Error() string {
	return fmt.Sprintf("graph error %d/%d (%s): %s [fbtrace_id %s]", e.Code, e.Subcode, e.Type, e.Message, e.FBTraceID)
}

// Graph error codes the project acts on
// (https://developers.facebook.com/docs/graph-api/guides/error-handling).
const (
	CodeAPITooManyCalls     = 4   // the app's rate limit
	CodeAPIUserTooManyCalls = 17  // the user's rate limit
	CodePageTooManyCalls    = 32  // a Page's rate limit
	CodeAPIPermissionDenied = 10  // a permission is missing or was removed
	CodeOAuthException      = 190 // the token is invalid or expired
	CodeCustomRateLimit     = 613 // a call-specific rate limit
	CodeInvalidParameter    = 100 // a parameter is wrong (a code already used, say)
)

// Throttled reports whether err is Graph asking us to slow down (codes 4, 17, 32, 613, and
// the business use case limits 80000-80014): retry later.
func Throttled(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case CodeAPITooManyCalls, CodeAPIUserTooManyCalls, CodePageTooManyCalls, CodeCustomRateLimit:
		return true
	}
	return e.Code >= 80000 && e.Code <= 80014
}

// TokenInvalid reports whether err says the user's token no longer works (code 190:
// expired, revoked, password changed): the user must connect again.
func TokenInvalid(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeOAuthException
}

// PermissionDenied reports whether err says a permission is missing (code 10, or 200-299).
func PermissionDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == CodeAPIPermissionDenied || (e.Code >= 200 && e.Code <= 299))
}

// Usage is what Graph's usage headers say of the app's and the business use cases' rate
// limits, in percent of the limit (0 to 100, or more), and how long Facebook says access
// is blocked.
type Usage struct {
	// Percent is the highest of call_count, total_time and total_cputime over
	// X-App-Usage and every entry of X-Business-Use-Case-Usage.
	Percent int
	// RegainAccess is the largest estimated_time_to_regain_access (given in minutes), at
	// most MaxRegainAccess.
	RegainAccess time.Duration
}

// MaxRegainAccess bounds the wait a usage header can ask for. A larger value (or one that
// would overflow time.Duration, which wrapped to any wait at all) is taken as this much:
// the sync asks Facebook again then, and a block still in force answers with a new wait.
const MaxRegainAccess = 24 * time.Hour

const maxRegainMinutes = int(MaxRegainAccess / time.Minute)

// ParseUsage reads X-App-Usage ({"call_count", "total_time", "total_cputime"}) and
// X-Business-Use-Case-Usage ({"<business id>": [{"type", "call_count", "total_time",
// "total_cputime", "estimated_time_to_regain_access"}]}). Headers that are missing or
// malformed count as no usage.
func ParseUsage(h http.Header) Usage {
	var u Usage
	type counters struct {
		CallCount    int `json:"call_count"`
		TotalTime    int `json:"total_time"`
		TotalCPUTime int `json:"total_cputime"`
		Regain       int `json:"estimated_time_to_regain_access"`
	}
	add := func(c counters) {
		u.Percent = max(u.Percent, c.CallCount, c.TotalTime, c.TotalCPUTime)
		u.RegainAccess = max(u.RegainAccess, time.Duration(min(max(c.Regain, 0), maxRegainMinutes))*time.Minute)
	}
	if raw := h.Get("X-App-Usage"); raw != "" {
		var c counters
		if json.Unmarshal([]byte(raw), &c) == nil {
			add(c)
		}
	}
	if raw := h.Get("X-Business-Use-Case-Usage"); raw != "" {
		var m map[string][]counters
		if json.Unmarshal([]byte(raw), &m) == nil {
			for _, list := range m {
				for _, c := range list {
					add(c)
				}
			}
		}
	}
	return u
}

// Time is a Graph timestamp ("2026-02-18T09:30:00+0000").
type Time struct{ time.Time }

// UnmarshalJSON reads Graph's time format, and RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("facebook: bad time %q", s)
}

// MarshalJSON writes Graph's time format.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05-0700") + `"`), nil
}
