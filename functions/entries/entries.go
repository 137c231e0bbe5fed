package entries

import (
	"bytes"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// Defaults of Config.EntryRetention, Config.IdempotencyKeyTTL, Config.PageMaxBytes and
// Config.IntakeRedeemBatch.
const (
	defaultRetention      = 30 * 24 * time.Hour
	defaultIdempotencyTTL = 24 * time.Hour
	defaultPageMaxBytes   = 4 << 20
	defaultRedeemBatch    = 20
)

// createEntry serves POST /api/v1/entries: 201 with the entry, Location and ETag. A retry
// with the same Idempotency-Key and body answers the entry the first request created.
func (a *api) createEntry(w http.ResponseWriter, r *http.Request) {
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req entryRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	in, err := req.validate(c.tier)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	keyHash, idempotent, err := idempotencyKeyHash(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var reqHash []byte
	if idempotent {
		reqHash = requestHash(c, in)
	}

	id := uuid.Must(uuid.NewV7()).String()
	var (
		body   entrybody.Sealed
		tokens blindindex.Vector
	)
	if c.tier == tierUCE {
		// Sealed and tokenised before the user's write lock is taken, to hold it briefly.
		if body, err = entrybody.Seal(c.key, c.userID, id, 1, in.title, in.content); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		source := defaultSource
		if in.source != nil {
			source = *in.source
		}
		if tokens, err = blindindex.Tokens(c.key, c.userID, blindindex.OriginOf(source), in.title, in.content); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	}
	var (
		row      entryRow
		replayed bool
	)
	err = a.write(r.Context(), c.userID, func(tx pgx.Tx, at time.Time) error {
		if idempotent {
			rec, err := getIdempotency(r.Context(), tx, c.userID, keyHash)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return err
			case at.Sub(rec.CreatedAt) >= a.idempotencyTTL:
				// Expired: the key starts afresh (putIdempotency replaces the record).
			case !bytes.Equal(rec.RequestHash, reqHash):
				return errIdempotencyKeyReused
			default:
				replayed = true
				row, err = findEntry(r.Context(), tx, c.userID, rec.EntryID, true)
				return err
			}
		}
		n := newEntry{id: id, userID: c.userID, body: body, ciphertext: in.ciphertext, mood: in.mood,
			source: defaultSource, occurredAt: at, tags: in.tags, at: at}
		if in.source != nil {
			n.source = *in.source
		}
		if in.occurredAt != nil {
			n.occurredAt = *in.occurredAt
		}
		var err error
		if row, err = insertEntry(r.Context(), tx, n); err != nil {
			return err
		}
		if err := recordChange(r.Context(), tx, c.userID, id, changeCreated, row.Version, at); err != nil {
			return err
		}
		if c.tier == tierUCE {
			// Searchable once the create commits (shared/blindindex).
			if err := blindindex.Put(r.Context(), tx, c.userID, id, row.BodyVersion, tokens); err != nil {
				return err
			}
		}
		if idempotent {
			return putIdempotency(r.Context(), tx, c.userID, keyHash, reqHash, id, at)
		}
		return nil
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var plain *uceBody
	if !replayed {
		plain = plainBody(in.title, in.content)
	}
	view, err := c.render(row, plain)
	if err != nil {
		httpapi.Fail(w, r, unreadable(row.ID, err))
		return
	}
	w.Header().Set("Location", basePath+"/"+row.ID)
	w.Header().Set("ETag", etag(row.Version))
	httpapi.WriteJSON(w, http.StatusCreated, view)
}

// getEntry serves GET /api/v1/entries/{id}: 200 with ETag; 304 with no body when
// If-None-Match names the current version; 404 when deleted or not the caller's.
func (a *api) getEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := entryID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	// The caller (and a uce session's key) first: a request refused without
	// If-None-Match is refused with it too (RFC 9110, section 13.2.1).
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if len(r.Header.Values("If-None-Match")) > 0 {
		// A client asking whether its copy is current: the version alone answers it,
		// without reading or decrypting the body.
		cur, err := getEntryState(r.Context(), a.db, c.userID, id)
		if err == nil && cur.DeletedAt != nil {
			err = httpapi.ErrNotFound
		}
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		if httpapi.NotModified(w, r, etag(cur.Version)) {
			return
		}
	}
	row, err := findEntry(r.Context(), a.db, c.userID, id, false)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	view, err := c.render(row, nil)
	if err != nil {
		httpapi.Fail(w, r, unreadable(row.ID, err))
		return
	}
	w.Header().Set("ETag", etag(row.Version))
	httpapi.WriteJSON(w, http.StatusOK, view)
}

// updateEntry serves PUT /api/v1/entries/{id}: the body replaces the entry's text, mood and
// tags (source and occurred_at are kept when omitted); 200 with version + 1; 412 when
// If-Match names another version; 404 when deleted or not the caller's.
func (a *api) updateEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := entryID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req entryRequest
	if err := httpapi.DecodeJSON(w, r, &req, maxBodyBytes); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	in, err := req.validate(c.tier)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	pre := ifMatch(r)
	var tokens blindindex.Vector
	origin := blindindex.Own // the usual case when the source is kept
	if in.source != nil {
		origin = blindindex.OriginOf(*in.source)
	}
	if c.tier == tierUCE {
		// Tokenised before the user's write lock is taken, to hold it briefly (again under
		// it only when the kept source turns out to be of the other origin).
		if tokens, err = blindindex.Tokens(c.key, c.userID, origin, in.title, in.content); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	}

	var row entryRow
	err = a.write(r.Context(), c.userID, func(tx pgx.Tx, at time.Time) error {
		cur, err := getEntryState(r.Context(), tx, c.userID, id)
		if err != nil {
			return err
		}
		if cur.DeletedAt != nil {
			return httpapi.ErrNotFound
		}
		if !pre.allows(cur.Version) {
			return errVersionMismatch
		}
		u := entryUpdate{id: id, userID: c.userID, from: cur.Version, ciphertext: in.ciphertext,
			mood: in.mood, source: in.source, occurredAt: in.occurredAt, tags: in.tags, at: at}
		if c.tier == tierUCE {
			if u.body, err = entrybody.Seal(c.key, c.userID, id, cur.Version+1, in.title, in.content); err != nil {
				return err
			}
		}
		if row, err = updateEntryBody(r.Context(), tx, u); err != nil {
			return changedMeanwhile(err)
		}
		if c.tier == tierUCE {
			if o := blindindex.OriginOf(row.Source); o != origin {
				if tokens, err = blindindex.Tokens(c.key, c.userID, o, in.title, in.content); err != nil {
					return err
				}
			}
			if err := blindindex.Put(r.Context(), tx, c.userID, id, row.BodyVersion, tokens); err != nil {
				return err
			}
		}
		return recordChange(r.Context(), tx, c.userID, id, changeUpdated, row.Version, at)
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	view, err := c.render(row, plainBody(in.title, in.content))
	if err != nil {
		httpapi.Fail(w, r, unreadable(row.ID, err))
		return
	}
	w.Header().Set("ETag", etag(row.Version))
	httpapi.WriteJSON(w, http.StatusOK, view)
}

// deleteEntry serves DELETE /api/v1/entries/{id}: 204, a soft delete restorable for 30
// days; 412 when an If-Match names another version; 404 when already deleted or not the
// caller's. It needs no key: a uce user can delete without decrypting.
func (a *api) deleteEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := entryID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	c, err := a.callerOf(r, false)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	pre := ifMatch(r)
	var row entryRow
	err = a.write(r.Context(), c.userID, func(tx pgx.Tx, at time.Time) error {
		cur, err := getEntryState(r.Context(), tx, c.userID, id)
		if err != nil {
			return err
		}
		if cur.DeletedAt != nil {
			return httpapi.ErrNotFound
		}
		if !pre.allows(cur.Version) {
			return errVersionMismatch
		}
		if row, err = setEntryDeleted(r.Context(), tx, c.userID, id, cur.Version, &at, at); err != nil {
			return changedMeanwhile(err)
		}
		return recordChange(r.Context(), tx, c.userID, id, changeDeleted, row.Version, at)
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restoreEntry serves POST /api/v1/entries/{id}/restore: 200 with the entry; 404 when it is
// not deleted, deleted longer ago than the retention (30 days), or not the caller's; 412 when an If-Match names another
// version.
func (a *api) restoreEntry(w http.ResponseWriter, r *http.Request) {
	id, ok := entryID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	c, err := a.callerOf(r, true)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	pre := ifMatch(r)
	var view entryView
	var row entryRow
	err = a.write(r.Context(), c.userID, func(tx pgx.Tx, at time.Time) error {
		cur, err := getEntryState(r.Context(), tx, c.userID, id)
		if err != nil {
			return err
		}
		if cur.DeletedAt == nil || at.Sub(*cur.DeletedAt) >= a.retention {
			return httpapi.ErrNotFound
		}
		if !pre.allows(cur.Version) {
			return errVersionMismatch
		}
		if row, err = setEntryDeleted(r.Context(), tx, c.userID, id, cur.Version, nil, at); err != nil {
			return changedMeanwhile(err)
		}
		// Decrypt before committing: an entry that cannot be shown is not restored.
		if view, err = c.render(row, nil); err != nil {
			return unreadable(id, err)
		}
		return recordChange(r.Context(), tx, c.userID, id, changeRestored, row.Version, at)
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(row.Version))
	httpapi.WriteJSON(w, http.StatusOK, view)
}

// changedMeanwhile maps a conditional write that matched no row, after the entry's state
// was checked in the same transaction, to 412: the entry changed in between. The user's
// write lock makes this unreachable for writers that take it; the version condition is the
// guard for any that do not.
func changedMeanwhile(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errVersionMismatch
	}
	return err
}
