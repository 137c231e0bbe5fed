package search

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"encoding/base64"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/keyset"
)

// Page sizes of a search.
const (
	defaultLimit = 20
	maxLimit     = 50
)

// maxRequestBytes bounds a search's body: a 256-character query and its filters.
const maxRequestBytes = 16 << 10

// cursorKind tags a search cursor: the (distance, id) of the page's last hit. ("s1", the
// (score, id) of ts_rank_cd's order before migration 0014, is no longer accepted.)
const cursorKind = "s2"

// errQueryEmpty answers a query with no word to look for.
var errQueryEmpty = httpapi.NewError(http.StatusUnprocessableEntity, "query_empty",
	"the query has no word to search for (only stop words, punctuation or exclusions)")

// searchRequest is the body of POST /api/v1/search.
type searchRequest struct {
	Query  *string  `json:"query"`
	Limit  *int     `json:"limit"`
	Cursor *string  `json:"cursor"`
	Mood   *string  `json:"mood"`
	Tags   []string `json:"tags"`
	From   *string  `json:"from"`
	To     *string  `json:"to"`
}

// searchInput is a validated search.
type searchInput struct {
	query blindindex.Query
	limit int
	after *position
	mood  *string
	tags  []string   // all must be on the entry; nil for none
	from  *time.Time // occurred_at >= from
	to    *time.Time // occurred_at < to
}

// position is where a page of hits ends, in (distance ASC, id DESC) order: the distance
// is the RUM index's, 1 / score.
type position struct {
	distance float64
	id       string
}

// encode writes the position as an opaque cursor; the distance goes as its exact bits, so
// the next page starts exactly after it.
func (p position) encode() string {
	raw := cursorKind + ":" + strconv.FormatUint(math.Float64bits(p.distance), 16) + ":" + p.id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (position, bool) {
	parts, ok := keyset.Split(s, cursorKind, 3)
	if !ok {
		return position{}, false
	}
	bits, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil || strconv.FormatUint(bits, 16) != parts[1] {
		return position{}, false
	}
	// A distance is positive, +Inf for a hit of score 0 (an entry matched only through
	// an or'ed exclusion: "walk or -rain"); never NaN, zero or negative.
	distance := math.Float64frombits(bits)
	if math.IsNaN(distance) || distance <= 0 {
		return position{}, false
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || id.String() != parts[2] {
		return position{}, false
	}
	return position{distance: distance, id: parts[2]}, true
}

// validate checks the request; every bad field is named in one 422.
func (req searchRequest) validate() (searchInput, error) {
	fields := map[string]string{}
	in := searchInput{limit: defaultLimit}
	var queryErr error
	switch {
	case req.Query == nil:
		fields["query"] = "is required"
	case utf8.RuneCountInString(*req.Query) > blindindex.MaxQueryRunes:
		fields["query"] = fmt.Sprintf("must be at most %d characters", blindindex.MaxQueryRunes)
	default:
		in.query, queryErr = blindindex.ParseQuery(*req.Query)
		if errors.Is(queryErr, blindindex.ErrPrefixTooShort) {
			fields["query"] = "a prefix* needs at least 3 characters"
		} else if queryErr != nil && !errors.Is(queryErr, blindindex.ErrQueryEmpty) {
			fields["query"] = "is not a query"
		}
	}
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > maxLimit {
			fields["limit"] = fmt.Sprintf("must be an integer from 1 to %d", maxLimit)
		}
		in.limit = *req.Limit
	}
	if req.Cursor != nil {
		p, ok := decodeCursor(*req.Cursor)
		if !ok {
			fields["cursor"] = "is not a cursor from an earlier page of this search"
		}
		in.after = &p
	}
	if req.Mood != nil {
		m, msg := entryfields.FilterMood(*req.Mood)
		if msg != "" {
			fields["mood"] = msg
		}
		in.mood = &m
	}
	if req.Tags != nil {
		tags, msg := entryfields.NormaliseTags(req.Tags)
		if msg != "" {
			fields["tags"] = msg
		}
		in.tags = tags
	}
	in.from = parseBound(req.From, "from", false, fields)
	in.to = parseBound(req.To, "to", true, fields)
	if in.from != nil && in.to != nil && !in.from.Before(*in.to) {
		fields["to"] = "must be after from"
	}
	if len(fields) > 0 {
		return searchInput{}, httpapi.Invalid(fields)
	}
	if queryErr != nil {
		return searchInput{}, errQueryEmpty
	}
	return in, nil
}

// parseBound reads from or to as the entries list does: an RFC 3339 time, or a date
// (YYYY-MM-DD, UTC), both inclusive; the bound returned for to is exclusive.
func parseBound(s *string, name string, upper bool, fields map[string]string) *time.Time {
	if s == nil {
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, *s); err == nil {
		t = t.UTC().Truncate(time.Microsecond)
		if upper {
			t = t.Add(time.Microsecond)
		}
		return &t
	}
	if t, err := time.Parse(time.DateOnly, *s); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return &t
	}
	fields[name] = "must be an RFC 3339 time or a date (YYYY-MM-DD)"
	return nil
}
