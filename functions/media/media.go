package media

import (
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entryref"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/userlock"
)

// uploadRequest is the body of POST /upload. Pointers tell a missing field from a zero.
type uploadRequest struct {
	Filename    *string `json:"filename"`
	ContentType *string `json:"content_type"`
	SizeBytes   *int64  `json:"size_bytes"`
	SHA256      *string `json:"sha256"`
	EntryID     *string `json:"entry_id"`
}

// upload is a checked uploadRequest.
type upload struct {
	filename    string
	contentType string
	size        int64
	sha256      []byte
	entryID     *string
}

// validate checks the declaration: 422 for a missing or malformed field, then 413 for a
// size above the limit.
func (req uploadRequest) validate() (upload, error) {
	var (
		in     upload
		fields = map[string]string{}
	)
	switch {
	case req.Filename == nil || *req.Filename == "":
		fields["filename"] = "is required"
	case len(*req.Filename) > maxFilenameBytes:
		fields["filename"] = "must be at most " + strconv.Itoa(maxFilenameBytes) + " bytes"
	case !utf8.ValidString(*req.Filename) || strings.IndexFunc(*req.Filename, unicode.IsControl) >= 0:
		fields["filename"] = "must be UTF-8 text without control characters"
	default:
		in.filename = *req.Filename
	}
	if req.ContentType == nil || *req.ContentType == "" {
		fields["content_type"] = "is required"
	} else if mt, params, err := mime.ParseMediaType(*req.ContentType); err != nil || len(params) > 0 || !mediarow.Allowed(mt) {
		fields["content_type"] = "must be one of the allowed image, audio, video or PDF types, without parameters"
	} else {
		in.contentType = mt
	}
	tooLarge := false
	switch {
	case req.SizeBytes == nil:
		fields["size_bytes"] = "is required"
	case *req.SizeBytes < 1:
		fields["size_bytes"] = "must be at least 1"
	case *req.SizeBytes > maxMediaBytes:
		tooLarge = true
	default:
		in.size = *req.SizeBytes
	}
	if req.SHA256 == nil || *req.SHA256 == "" {
		fields["sha256"] = "is required"
	} else if sum, err := hex.DecodeString(*req.SHA256); err != nil || len(sum) != 32 {
		fields["sha256"] = "must be the SHA-256 of the file as 64 hex digits"
	} else {
		in.sha256 = sum
	}
	if req.EntryID != nil {
		if id, err := uuid.Parse(*req.EntryID); err != nil {
			fields["entry_id"] = "must be an entry id"
		} else {
			s := id.String()
			in.entryID = &s
		}
	}
	if len(fields) > 0 {
		return upload{}, httpapi.Invalid(fields)
	}
	if tooLarge {
		return upload{}, errTooLarge
	}
	return in, nil
}

// objectKey is where a media's bytes live: built from ids only, never from the filename
// or anything else the user typed.
func objectKey(userID, mediaID string) string {
	return "u/" + userID + "/" + mediaID
}

// uploadView is the presigned PUT the client sends the bytes with.
type uploadView struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

type uploadResponse struct {
	Media        mediaView   `json:"media"`
	Upload       *uploadView `json:"upload"`
	Deduplicated bool        `json:"deduplicated"`
}

// upload answers POST /upload: 201 with a presigned PUT for a new pending media, or 200
// with no upload at all when the caller already stores the same bytes (deduplicated): the
// existing media, or, when entry_id names another entry than the existing media's, a new
// ready media for that entry sharing the stored object.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req uploadRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	in, err := req.validate()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	names, err := s.filenames(p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	mediaID := id.String()
	filenameCT, err := names.seal(mediaID, in.filename)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}

	var (
		m            mediaRow
		put          objstore.Presigned
		deduplicated bool
	)
	err = store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
		// The user's upload lock, held to commit: the quota check, the deduplication and the
		// insert below see no other upload of the user half done.
		if _, err := userlock.Lock(ctx, tx, p.UserID, userlock.Media); err != nil {
			return err
		}
		if in.entryID != nil {
			ok, err := entryref.Live(ctx, tx, p.UserID, *in.entryID)
			if err != nil {
				return err
			}
			if !ok {
				return httpapi.Invalid(map[string]string{"entry_id": "is not one of your entries"})
			}
		}
		existing, err := findDuplicate(ctx, tx, p.UserID, in.sha256, in.size, in.entryID)
		switch {
		case err == nil && (in.entryID == nil || sameEntry(existing.EntryID, *in.entryID)):
			m, deduplicated = existing, true
			return nil
		case err == nil:
			// The bytes are stored already, for another entry or none: this entry gets a
			// media of its own that shares the object. The bytes are stored (and counted)
			// once, so the quota is not asked.
			deduplicated = true
			m, err = insertMedia(ctx, tx, mediaRow{
				ID:          mediaID,
				UserID:      p.UserID,
				EntryID:     in.entryID,
				ObjectKey:   existing.ObjectKey,
				FilenameCT:  filenameCT,
				ContentType: existing.ContentType, // what S3 serves the object with
				SizeBytes:   existing.SizeBytes,
				SHA256:      existing.SHA256,
				Status:      statusReady,
			})
			return err
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := s.quota.Check(ctx, tx, p.UserID, in.size); err != nil {
			if errors.Is(err, storage.ErrQuotaExceeded) {
				return errQuotaExceeded
			}
			return err
		}
		// Only now is an upload needed. Presigning is local computation, so it costs the
		// lock nothing, and the row records when the URL dies.
		key := objectKey(p.UserID, mediaID)
		put, err = s.objects.PresignPut(ctx, key, in.size, in.sha256, in.contentType, s.uploadTTL)
		if err != nil {
			return err
		}
		m, err = insertMedia(ctx, tx, mediaRow{
			ID:              mediaID,
			UserID:          p.UserID,
			EntryID:         in.entryID,
			ObjectKey:       key,
			FilenameCT:      filenameCT,
			ContentType:     in.contentType,
			SizeBytes:       in.size,
			SHA256:          in.sha256,
			Status:          statusPending,
			UploadExpiresAt: &put.ExpiresAt,
		})
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	view, err := names.view(m)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	logger := httpapi.Logger(ctx)
	if deduplicated {
		logger.Info("media upload deduplicated", "media_id", m.ID)
		httpapi.WriteJSON(w, http.StatusOK, uploadResponse{Media: view, Deduplicated: true})
		return
	}
	logger.Info("media upload requested", "media_id", m.ID, "size_bytes", m.SizeBytes, "content_type", m.ContentType)
	w.Header().Set("Location", basePath+"/"+m.ID)
	httpapi.WriteJSON(w, http.StatusCreated, uploadResponse{Media: view, Upload: &uploadView{
		URL:       put.URL,
		Method:    put.Method,
		Headers:   put.Header,
		ExpiresAt: put.ExpiresAt,
	}})
}

// sameEntry reports whether a media attached to attached belongs to entryID.
func sameEntry(attached *string, entryID string) bool {
	return attached != nil && *attached == entryID
}

// complete answers POST /{id}/complete: the media becomes ready once S3 holds an object
// of the declared size (and, when the store reports one, the declared SHA-256). Calling
// it again on a ready media answers the same. The quota is not asked again: the upload
// has counted since it was granted, and becoming ready changes no sum.
func (s *server) complete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m, err := s.mediaFromPath(r, p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if m.Status == statusPending {
		obj, exists, err := s.objects.Head(ctx, m.ObjectKey)
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		if !exists || obj.Size != m.SizeBytes || (obj.SHA256 != "" && obj.SHA256 != hex.EncodeToString(m.SHA256)) {
			httpapi.Fail(w, r, errUploadMissing)
			return
		}
		m, err = markReady(ctx, s.svc.DB, p.UserID, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			// A concurrent complete won (then it is ready), or a delete or the janitor's
			// removal of an expired upload did (404).
			m, err = getMedia(ctx, s.svc.DB, p.UserID, m.ID)
		}
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		httpapi.Logger(ctx).Info("media upload completed", "media_id", m.ID, "size_bytes", m.SizeBytes)
	}
	s.writeMedia(w, r, p, http.StatusOK, m)
}

// get answers GET /{id}: the media with its ETag, or 304 when If-None-Match names it.
func (s *server) get(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m, err := s.mediaFromPath(r, p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	s.writeMedia(w, r, p, http.StatusOK, m)
}

type downloadResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// download answers GET /{id}/download with a presigned GET of a ready media.
func (s *server) download(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m, err := s.mediaFromPath(r, p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if m.Status != statusReady {
		httpapi.Fail(w, r, errNotReady)
		return
	}
	get, err := s.objects.PresignGet(r.Context(), m.ObjectKey, s.downloadTTL)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, downloadResponse{URL: get.URL, ExpiresAt: get.ExpiresAt})
}

// delete answers DELETE /{id}: a soft delete; the janitor removes the object.
func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	id, ok := pathID(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	if err := softDeleteMedia(r.Context(), s.svc.DB, p.UserID, id); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(r.Context()).Info("media deleted", "media_id", id)
	w.WriteHeader(http.StatusNoContent)
}

type listResponse struct {
	Items      []mediaView `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// list answers GET /?limit=&cursor=&entry_id=: the caller's media, newest first.
func (s *server) list(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	f, err := parseListQuery(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	names, err := s.filenames(p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	limit := f.limit
	f.limit++ // one more tells whether there is a next page
	rows, err := listMedia(r.Context(), s.svc.DB, p.UserID, f)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp := listResponse{Items: make([]mediaView, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next := keyset.Position{At: last.CreatedAt, ID: last.ID}.Encode(listCursorKind)
		resp.NextCursor = &next
	}
	for _, m := range rows {
		v, err := names.view(m)
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		resp.Items = append(resp.Items, v)
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

func parseListQuery(r *http.Request) (listFilter, error) {
	q := r.URL.Query()
	fields := map[string]string{}
	page := keyset.ParsePage(q, listCursorKind, fields)
	f := listFilter{limit: page.Limit, after: page.After}
	if v := q.Get("entry_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			fields["entry_id"] = "must be an entry id"
		}
		s := id.String()
		f.entryID = &s
	}
	if len(fields) > 0 {
		return listFilter{}, httpapi.Invalid(fields)
	}
	return f, nil
}

// listCursorKind tags the media list's cursors (a keyset.Position in (created_at, id)).
const listCursorKind = "m1"

// pathID returns the {id} of the path in canonical form; a value that is no UUID names
// no media.
func pathID(r *http.Request) (string, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return "", false
	}
	return id.String(), true
}

// mediaFromPath loads the caller's media named by the path: not found when the id is
// malformed, unknown, deleted or another user's.
func (s *server) mediaFromPath(r *http.Request, p httpapi.Caller) (mediaRow, error) {
	id, ok := pathID(r)
	if !ok {
		return mediaRow{}, httpapi.ErrNotFound
	}
	return getMedia(r.Context(), s.svc.DB, p.UserID, id)
}

// writeMedia answers the media with its ETag. A GET whose If-None-Match names the ETag is
// answered 304 without opening the filename; the filename key is asked for first all the
// same, so a session that cannot open filenames is refused alike with or without the
// header (RFC 9110, section 13.2.1).
func (s *server) writeMedia(w http.ResponseWriter, r *http.Request, p httpapi.Caller, status int, m mediaRow) {
	names, err := s.filenames(p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	tag := m.etag()
	if httpapi.NotModified(w, r, tag) {
		return
	}
	view, err := names.view(m)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("ETag", tag)
	httpapi.WriteJSON(w, status, view)
}
