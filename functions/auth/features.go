package auth

import (
	"context"
	"fmt"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

type featuresJSON struct {
	EncryptionTier string      `json:"encryption_tier"`
	Features       featureSet  `json:"features"`
	Storage        storageJSON `json:"storage"`
}

type featureSet struct {
	Search               bool `json:"search"`
	ServerSideEncryption bool `json:"server_side_encryption"`
	ClientSideEncryption bool `json:"client_side_encryption"`
	Media                bool `json:"media"`
	Integrations         bool `json:"integrations"`
}

type storageJSON struct {
	UsedBytes  int64 `json:"used_bytes"`
	QuotaBytes int64 `json:"quota_bytes"`
}

// features tells a client what the caller's tier offers: search needs the server to read
// entries, so only uce has it; and how much of the media quota is used.
func (s *server) features(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	used, err := mediaBytesUsed(ctx, s.db, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: features: %w", err))
		return
	}
	uce := p.Tier == "uce"
	httpapi.WriteJSON(w, http.StatusOK, featuresJSON{
		EncryptionTier: p.Tier,
		Features: featureSet{
			Search:               uce,
			ServerSideEncryption: uce,
			ClientSideEncryption: !uce,
			Media:                true,
			Integrations:         true,
		},
		Storage: storageJSON{UsedBytes: used, QuotaBytes: s.quota},
	})
}

// mediaBytesUsed is what counts against the user's media quota, exactly as the media
// function's upload checks it (functions/media usedBytes): the bytes of every object an
// undeleted media row of the user refers to, ready or pending (a pending upload counts
// until it is completed or removed), each object once (rows made by deduplication share
// one). The media table belongs to the media function and may not exist yet where it is
// not deployed, which counts as nothing used.
func mediaBytesUsed(ctx context.Context, db store.DBTX, userID string) (int64, error) {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass('public.media') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("auth: media bytes used: %w", store.Translate(err))
	}
	if !exists {
		return 0, nil
	}
	var used int64
	err := db.QueryRow(ctx, `
		SELECT COALESCE(SUM(size_bytes), 0)::bigint
		FROM (SELECT DISTINCT ON (object_key) size_bytes
		      FROM media
		      WHERE user_id = $1 AND deleted_at IS NULL
		      ORDER BY object_key) objects`, userID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("auth: media bytes used: %w", store.Translate(err))
	}
	return used, nil
}
