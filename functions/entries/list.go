package entries

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/keyset"
)

// listEntries serves GET /api/v1/entries: a page of the caller's entries, newest
// occurred_at first, or, with updated_since, a page of the sync feed.
func (a *api) listEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("updated_since") {
		a.listChanges(w, r, q)
		return
	}
	f, err := parseListFilter(q, a.pageMaxBytes)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	rows, more, err := findEntries(r.Context(), a.db, c.userID, f)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	page := pageView{}
	if more {
		last := rows[len(rows)-1]
		next := keyset.Position{At: last.OccurredAt, ID: last.ID}.Encode(listCursorKind)
		page.NextCursor = &next
	}
	if page.Items, err = c.renderAll(rows); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writePage(w, page)
}

// listChanges serves GET /api/v1/entries?updated_since=: every entry changed after a point,
// deleted ones included, oldest change first. The point is an RFC 3339 time (changes with
// updated_at after it) or a cursor from an earlier page. next_cursor is null once the
// client has caught up; sync_cursor is always set and is where to resume next time.
//
// A position (a cursor's issue time, or the time given) older than the retention of
// tombstones answers 410 sync_expired, as the client may have missed a delete that was
// purged since; a time at or before the Unix epoch is a sync from the beginning, by a
// client that holds nothing yet (a first sync, or a full resync after a 410), and never
// expires.
//
// A change is ordered by its change_seq, drawn under the user's write lock and held until
// commit, so the changes a reader sees always form a prefix of the sequence: a page ending
// at seq s can never be followed by a commit below s. An entry changed again after it was
// served comes back at its new place, in its latest state. A page cut short by
// ENTRY_PAGE_MAX_BYTES ends at a seq like any other, so the next one goes on after it.
func (a *api) listChanges(w http.ResponseWriter, r *http.Request, q url.Values) {
	pos, limit, err := parseFeedQuery(q)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	now := time.Now()
	if pos.expired(now, a.retention) {
		httpapi.Fail(w, r, errSyncExpired)
		return
	}
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var rows []entryRow
	var more bool
	resume := pos.afterSeq
	err = a.snapshot(r.Context(), func(tx pgx.Tx) error {
		rows, more, err = findChanges(r.Context(), tx, c.userID, pos, pageSize{limit: limit, maxBytes: a.pageMaxBytes})
		if err != nil {
			return err
		}
		if len(rows) == 0 && pos.afterTime != nil {
			// Caught up from a time: resume after every change this snapshot holds.
			resume, err = lastChangeSeq(r.Context(), tx, c.userID)
		}
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	page := pageView{}
	if len(rows) > 0 {
		resume = rows[len(rows)-1].ChangeSeq
	}
	sync := feedCursor{seq: resume, issued: now}.encode()
	page.SyncCursor = &sync
	if more {
		page.NextCursor = &sync
	}
	if page.Items, err = c.renderAll(rows); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writePage(w, page)
}

// syncExpiryMargin keeps a feed position's expiry clear of the purge, whose clock may
// differ.
const syncExpiryMargin = time.Hour

// expired reports whether a purge of tombstones older than retention may have removed a
// delete made after the position: the client's copy can no longer be brought up to date.
func (p feedPosition) expired(now time.Time, retention time.Duration) bool {
	return !p.fromStart && now.Sub(p.since) >= retention-syncExpiryMargin
}

// syncStart is the updated_since that asks for the feed from its beginning; any time at
// or before it means the same (a client's "never synced" zero time, say).
var syncStart = time.Unix(0, 0).UTC()

// errSyncExpired answers a feed position older than the retention of tombstones: deletes
// made after it may have been purged, so the client must sync again from scratch.
var errSyncExpired = httpapi.NewError(http.StatusGone, "sync_expired",
	"this sync position is older than deleted entries are kept; drop the local copy and sync again from the beginning (updated_since=1970-01-01T00:00:00Z)")

// listOnlyParams are the list's filters, which the sync feed does not take.
var listOnlyParams = []string{"cursor", "mood", "source", "tag", "from", "to"}

func parseFeedQuery(q url.Values) (feedPosition, int, error) {
	fields := map[string]string{}
	limit := keyset.ParseLimit(q, fields)
	var pos feedPosition
	since := q.Get("updated_since")
	if strings.Contains(since, ":") {
		t, err := time.Parse(time.RFC3339Nano, since)
		switch {
		case err != nil:
			fields["updated_since"] = "must be an RFC 3339 time or a cursor from an earlier page"
		case !t.After(syncStart):
			// Every change has a change_seq above 0: the whole feed, on its index.
			pos.fromStart = true
		default:
			pos.afterTime, pos.since = &t, t
		}
	} else if c, ok := decodeFeedCursor(since); ok {
		pos.afterSeq, pos.since = c.seq, c.issued
	} else {
		fields["updated_since"] = "must be an RFC 3339 time or a cursor from an earlier page"
	}
	for _, p := range listOnlyParams {
		if q.Has(p) {
			fields[p] = "cannot be combined with updated_since"
		}
	}
	parseBool(q, "include_deleted", fields) // implied by the feed, but must be well-formed
	if len(fields) > 0 {
		return feedPosition{}, 0, httpapi.Invalid(fields)
	}
	return pos, limit, nil
}

func parseListFilter(q url.Values, maxBytes int64) (listFilter, error) {
	fields := map[string]string{}
	page := keyset.ParsePage(q, listCursorKind, fields)
	f := listFilter{size: pageSize{limit: page.Limit, maxBytes: maxBytes}, after: page.After}
	if q.Has("mood") {
		mood, msg := entryfields.FilterMood(q.Get("mood"))
		if msg != "" {
			fields["mood"] = msg
		}
		f.mood = &mood
	}
	if q.Has("source") {
		source := q.Get("source")
		if !entryfields.ValidSource(source) {
			fields["source"] = entryfields.SourceRule()
		}
		f.source = &source
	}
	if tags, ok := q["tag"]; ok {
		norm, msg := entryfields.NormaliseTags(tags)
		if msg != "" {
			fields["tag"] = strings.Replace(msg, "hold", "name", 1)
		}
		f.tags = norm
	}
	f.from = parseDay(q, "from", false, fields)
	f.to = parseDay(q, "to", true, fields)
	if f.from != nil && f.to != nil && !f.from.Before(*f.to) {
		fields["to"] = "must be after from"
	}
	f.includeDeleted = parseBool(q, "include_deleted", fields)
	if len(fields) > 0 {
		return listFilter{}, httpapi.Invalid(fields)
	}
	return f, nil
}

// parseDay reads from or to: an RFC 3339 time, or a date (YYYY-MM-DD, UTC). from is
// inclusive and to inclusive too: a date as to covers that whole day, so the bound
// returned for to is exclusive (the next day, or the time plus a microsecond).
func parseDay(q url.Values, name string, upper bool, fields map[string]string) *time.Time {
	if !q.Has(name) {
		return nil
	}
	s := q.Get(name)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = t.UTC().Truncate(time.Microsecond)
		if upper {
			t = t.Add(time.Microsecond)
		}
		return &t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return &t
	}
	fields[name] = "must be an RFC 3339 time or a date (YYYY-MM-DD)"
	return nil
}

func parseBool(q url.Values, name string, fields map[string]string) bool {
	if !q.Has(name) {
		return false
	}
	b, err := strconv.ParseBool(q.Get(name))
	if err != nil {
		fields[name] = "must be true or false"
	}
	return b
}
