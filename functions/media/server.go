package media

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
)

// Limits of the API contract.
const (
	// maxMediaBytes is the largest upload: 50 MiB.
	maxMediaBytes = 50 << 20
	// maxFilenameBytes bounds the filename as sent; an e2e client's encrypted filename in
	// base64 fits easily.
	maxFilenameBytes = 1024
	// bodyLimit bounds every request body; the largest valid upload request is far smaller.
	bodyLimit = 8 << 10
	// urlTTL is how long presigned URLs work: the contract's maximum, so a slow mobile
	// upload of 50 MiB can still start late.
	urlTTL = objstore.MaxTTL
)

// Errors with a status of their own.
var (
	errTooLarge = httpapi.NewError(http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("a media file must be at most %d bytes (50 MiB)", maxMediaBytes))
	errQuotaExceeded = httpapi.NewError(http.StatusForbidden, "quota_exceeded",
		"this upload would exceed your storage quota")
	errUploadMissing = httpapi.NewError(http.StatusConflict, "upload_missing",
		"the object has not been uploaded with the declared size and checksum")
	errNotReady = httpapi.NewError(http.StatusConflict, "not_ready",
		"the media is not uploaded yet: upload it and call complete first")
)

// objectStore is what the handlers need of S3: objstore.Store.
type objectStore interface {
	PresignPut(ctx context.Context, key string, size int64, sum []byte, contentType string, ttl time.Duration) (objstore.Presigned, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (objstore.Presigned, error)
	Head(ctx context.Context, key string) (objstore.Object, bool, error)
}

// server holds what the handlers share.
type server struct {
	svc     *platform.Services
	objects objectStore
	quota   storage.Quota
	// uploadTTL and downloadTTL are how long presigned URLs work (tests shorten them).
	uploadTTL   time.Duration
	downloadTTL time.Duration
}

func newServer(cfg Config, svc *platform.Services, objects *objstore.Store) (*server, error) {
	switch {
	case svc == nil:
		return nil, errors.New("no services")
	case objects == nil:
		return nil, errors.New("no object store")
	}
	if err := cfg.Quota.Validate(); err != nil {
		return nil, err
	}
	return &server{svc: svc, objects: objects, quota: cfg.Quota, uploadTTL: urlTTL, downloadTTL: urlTTL}, nil
}

// filenames seals and opens filenames for one caller. A uce user's filename is sealed
// under the master key from the session, bound to the user and the media id; an e2e
// user's is stored as the client sent it (its own ciphertext, if it encrypts it).
type filenames struct {
	userID string
	key    []byte // nil for e2e
}

// filenames returns the caller's filenames. A uce session that holds no master key
// answers 401 session_key_unavailable, as in every function.
func (s *server) filenames(p httpapi.Caller) (filenames, error) {
	if p.Tier != "uce" {
		return filenames{userID: p.UserID}, nil
	}
	key, err := p.MasterKey()
	if err != nil {
		return filenames{}, err
	}
	return filenames{userID: p.UserID, key: key}, nil
}

func (f filenames) ad(mediaID string) crypto.AD {
	return crypto.AD{Owner: f.userID, Record: mediaID, Purpose: "media.filename"}
}

func (f filenames) seal(mediaID, name string) ([]byte, error) {
	if f.key == nil {
		return []byte(name), nil
	}
	ct, err := crypto.Seal(f.key, []byte(name), f.ad(mediaID))
	if err != nil {
		return nil, fmt.Errorf("media: seal filename: %w", err)
	}
	return ct, nil
}

func (f filenames) open(mediaID string, stored []byte) (string, error) {
	if f.key == nil {
		return string(stored), nil
	}
	name, err := crypto.Open(f.key, stored, f.ad(mediaID))
	if err != nil {
		return "", fmt.Errorf("media: open filename of %s: %w", mediaID, err)
	}
	return string(name), nil
}

// mediaView is a media as the API shows it.
type mediaView struct {
	ID          string    `json:"id"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"`
	Status      string    `json:"status"`
	EntryID     *string   `json:"entry_id"`
	CreatedAt   time.Time `json:"created_at"`
}

func (f filenames) view(m mediaRow) (mediaView, error) {
	name, err := f.open(m.ID, m.FilenameCT)
	if err != nil {
		return mediaView{}, err
	}
	return mediaView{
		ID:          m.ID,
		Filename:    name,
		ContentType: m.ContentType,
		SizeBytes:   m.SizeBytes,
		SHA256:      fmt.Sprintf("%x", m.SHA256),
		Status:      m.Status,
		EntryID:     m.EntryID,
		CreatedAt:   m.CreatedAt.UTC(),
	}, nil
}

// etag is the entity tag of the media as the API shows it: a hash of every stored field
// the view is made of (the sealed filename standing for the filename), so it changes
// exactly when the answer would: pending becomes ready, a purged entry leaves the media
// unattached. It needs no key and opens nothing.
func (m mediaRow) etag() string {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte("diary-media-etag-v1"))
	field([]byte(m.ID))
	if m.EntryID != nil {
		field([]byte(*m.EntryID))
	} else {
		field(nil)
	}
	field(m.FilenameCT)
	field([]byte(m.ContentType))
	field(binary.BigEndian.AppendUint64(nil, uint64(m.SizeBytes)))
	field(m.SHA256)
	field([]byte(m.Status))
	field(binary.BigEndian.AppendUint64(nil, uint64(m.CreatedAt.UnixMicro())))
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}
