package archive

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/keyset"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/store"
)

// Limits of imports.
const (
	// maxImportBytes is the largest zip: 2 GiB.
	maxImportBytes = 2 << 30
	// importBodyLimit bounds the body of POST /imports.
	importBodyLimit = 4 << 10
	// jobKind is the kind of an import's job.
	jobKind = "import"
	// importCursorKind tags the import list's cursors.
	importCursorKind = "i1"
)

// Import statuses.
const (
	statusAwaitingUpload = "awaiting_upload"
	statusQueued         = "queued"
	statusRunning        = "running"
	statusSucceeded      = "succeeded"
	statusFailed         = "failed"
)

var (
	errImportTooLarge = httpapi.NewError(http.StatusRequestEntityTooLarge, "too_large",
		"an import must be at most 2 GiB")
	errImportQuota = httpapi.NewError(http.StatusForbidden, "quota_exceeded",
		"this import is larger than the room left in your storage quota")
	errDayOneForE2E = httpapi.NewError(http.StatusForbidden, "feature_unavailable_for_tier",
		"an e2e account can import only its own diary export: importing a Day One journal would show its text to the server")
	errImportUploadMissing = httpapi.NewError(http.StatusConflict, "upload_missing",
		"the zip has not been uploaded with the declared size and checksum")
	errImportFinished = httpapi.NewError(http.StatusConflict, "import_finished",
		"this import has finished; create a new import to run it again")
)

// createImportRequest is the body of POST /imports.
type createImportRequest struct {
	Format    *string `json:"format"`
	SizeBytes *int64  `json:"size_bytes"`
	SHA256    *string `json:"sha256"`
}

type uploadView struct {
	URL       string            `json:"url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
}

type createImportResponse struct {
	Import importView `json:"import"`
	Upload uploadView `json:"upload"`
}

// stagingKey is where an import's zip waits: under the user's prefix, named by ids only.
func stagingKey(userID, importID string) string {
	return "u/" + userID + "/imports/" + importID + ".zip"
}

// createImport answers POST /imports: 201 with a presigned PUT of the zip, bound to its
// length and SHA-256. The zip must fit in the user's quota headroom, since its media will.
func (s *server) createImport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req createImportRequest
	if err := httpapi.DecodeJSON(w, r, &req, importBodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	fields := map[string]string{}
	var (
		format   string
		size     int64
		sum      []byte
		tooLarge bool
	)
	switch {
	case req.Format == nil:
		fields["format"] = "is required"
	case *req.Format != formatDiary && *req.Format != formatDayOne:
		fields["format"] = "must be diary or dayone"
	default:
		format = *req.Format
	}
	switch {
	case req.SizeBytes == nil:
		fields["size_bytes"] = "is required"
	case *req.SizeBytes < 1:
		fields["size_bytes"] = "must be at least 1"
	case *req.SizeBytes > maxImportBytes:
		tooLarge = true
	default:
		size = *req.SizeBytes
	}
	if req.SHA256 == nil || *req.SHA256 == "" {
		fields["sha256"] = "is required"
	} else if b, err := hex.DecodeString(*req.SHA256); err != nil || len(b) != 32 {
		fields["sha256"] = "must be the SHA-256 of the zip as 64 hex digits"
	} else {
		sum = b
	}
	if len(fields) > 0 {
		httpapi.Fail(w, r, httpapi.Invalid(fields))
		return
	}
	if tooLarge {
		httpapi.Fail(w, r, errImportTooLarge)
		return
	}
	if format == formatDayOne && p.Tier != tierUCE {
		httpapi.Fail(w, r, errDayOneForE2E)
		return
	}
	used, err := storage.Usage(ctx, s.svc.DB, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if used+size > s.quota.QuotaBytes {
		httpapi.Fail(w, r, errImportQuota)
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	key := stagingKey(p.UserID, id.String())
	put, err := s.objects.PresignPut(ctx, key, size, sum, "application/zip", objstore.MaxTTL)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	row, err := insertImport(ctx, s.svc.DB, importRow{
		ID: id.String(), UserID: p.UserID, Format: format, SizeBytes: size, SHA256: sum,
		StagingKey: &key, UploadExpiresAt: put.ExpiresAt,
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("import requested", "import_id", row.ID, "format", format, "size_bytes", size)
	w.Header().Set("Location", basePath+"/imports/"+row.ID)
	httpapi.WriteJSON(w, http.StatusCreated, createImportResponse{
		Import: row.view(),
		Upload: uploadView{URL: put.URL, Method: put.Method, Headers: put.Header, ExpiresAt: put.ExpiresAt},
	})
}

type startResponse struct {
	JobID string `json:"job_id"`
}

// startImport answers POST /imports/{id}/start: 202 {job_id} once the zip is in S3 with
// the declared size. It queues the job and writes import.requested to the outbox in the
// same transaction (the relay sends it after the commit); a start while queued writes the
// event again, with the same job. A running import answers its job again; a finished one
// 409.
func (s *server) startImport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	imp, err := s.importFromPath(r, p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	switch imp.Status {
	case statusSucceeded, statusFailed:
		httpapi.Fail(w, r, errImportFinished)
		return
	case statusRunning:
		httpapi.WriteJSON(w, http.StatusAccepted, startResponse{JobID: *imp.JobID})
		return
	case statusAwaitingUpload:
		if imp.StagingKey == nil {
			httpapi.Fail(w, r, errImportUploadMissing)
			return
		}
		obj, exists, err := s.objects.Head(ctx, *imp.StagingKey)
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		if !exists || obj.Size != imp.SizeBytes || (obj.SHA256 != "" && obj.SHA256 != hex.EncodeToString(imp.SHA256)) {
			httpapi.Fail(w, r, errImportUploadMissing)
			return
		}
		err = store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
			jobID, err := job.Queue(ctx, tx, p.UserID, jobKind)
			if err != nil {
				return err
			}
			if imp, err = queueImport(ctx, tx, p.UserID, imp.ID, jobID); err != nil {
				return err
			}
			return addImportRequested(ctx, tx, imp)
		})
		if errors.Is(err, store.ErrNotFound) {
			// A concurrent start won, with its event: answer with its job.
			imp, err = getImport(ctx, s.svc.DB, p.UserID, imp.ID)
		}
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	case statusQueued:
		// Started before and not taken up yet: the event again (the importer handles an
		// import once), in case the Broker gave the first one up.
		err = store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error { return addImportRequested(ctx, tx, imp) })
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	}
	s.relay.Wake()
	httpapi.Logger(ctx).Info("import started", "import_id", imp.ID, "job_id", *imp.JobID)
	httpapi.WriteJSON(w, http.StatusAccepted, startResponse{JobID: *imp.JobID})
}

// getImport answers GET /imports/{id}.
func (s *server) getImport(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := s.finalizeFor(r, p); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	imp, err := s.importFromPath(r, p)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, imp.view())
}

type listResponse struct {
	Items      []importView `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

// listImports answers GET /imports?limit=&cursor=: the caller's imports, newest first.
func (s *server) listImports(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	fields := map[string]string{}
	page := keyset.ParsePage(r.URL.Query(), importCursorKind, fields)
	if len(fields) > 0 {
		httpapi.Fail(w, r, httpapi.Invalid(fields))
		return
	}
	if err := s.finalizeFor(r, p); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	rows, err := listImports(r.Context(), s.svc.DB, p.UserID, page.After, page.Limit+1)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp := listResponse{Items: []importView{}}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		last := rows[len(rows)-1]
		next := keyset.Position{At: last.CreatedAt, ID: last.ID}.Encode(importCursorKind)
		resp.NextCursor = &next
	}
	for _, imp := range rows {
		resp.Items = append(resp.Items, imp.view())
	}
	httpapi.WriteJSON(w, http.StatusOK, resp)
}

// finalizeFor gives a uce caller's waiting import media their rows when the session holds
// the key; without it (a keyless session) the list and the import are shown all the same.
func (s *server) finalizeFor(r *http.Request, p httpapi.Caller) error {
	if p.Tier != tierUCE {
		return nil
	}
	key, err := p.MasterKey()
	if errors.Is(err, httpapi.ErrSessionKeyUnavailable) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.finalizeImportMedia(r.Context(), p.UserID, key)
}

// importFromPath loads the caller's import named by the path: not found for a malformed
// id, an unknown one or another user's.
func (s *server) importFromPath(r *http.Request, p httpapi.Caller) (importRow, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return importRow{}, httpapi.ErrNotFound
	}
	imp, err := getImport(r.Context(), s.svc.DB, p.UserID, id.String())
	if err != nil {
		return importRow{}, fmt.Errorf("archive: import: %w", err)
	}
	return imp, nil
}

// addImportRequested writes the import's import.requested event to the outbox, in tx.
func addImportRequested(ctx context.Context, tx pgx.Tx, imp importRow) error {
	_, err := outbox.Add(ctx, tx, eventing.TypeImportRequested, eventing.SourceArchive, imp.ID, imp.UserID,
		eventing.ImportRequested{UserID: imp.UserID, ImportID: imp.ID, JobID: *imp.JobID})
	return err
}
