package auth

import (
	"fmt"
	"net/http"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/storage"
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
// entries, so only uce has it; integrations only when a Facebook app is configured; and how much of the media quota is used, counted by
// shared/storage exactly as the media function's upload counts it.
func (s *server) features(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	used, err := storage.Usage(ctx, s.db, p.UserID)
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
			Integrations:         s.integrations,
		},
		Storage: storageJSON{UsedBytes: used, QuotaBytes: s.quota},
	})
}
