// Package media is the media function: photos, recordings, videos and PDFs under
// /api/v1/media. It never touches a media byte. A client declares what it will upload
// (size, SHA-256, type); the function checks the declaration and the user's quota and
// answers with a presigned S3 PUT whose signature binds that length and checksum, so the
// store refuses any other bytes. Complete checks with a HEAD that the object arrived
// before the media counts as ready; downloads are presigned GETs. Deleting is soft: the
// janitor removes the object later.
package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
)

// Config is the media function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// S3 is the object store's part (S3_ENDPOINT, S3_BUCKET, ...). It is read on its own
	// by loadConfig: two embedded structs both named Config cannot sit side by side.
	S3 objstore.Config `ignored:"true"`
	// Quota is STORAGE_QUOTA_BYTES, how many bytes of media each user may keep (shared
	// with auth's /features, which reports it).
	storage.Quota
}

// Function is the media function in knative/func's shape: New, then Start, Handle, Ready,
// Alive and Stop. Its handler serves the full public paths under /api/v1/media; the
// embedded Lifecycle provides Handle, Ready, Alive and Stop. Ready probes PostgreSQL and
// Redis but not S3: a store outage fails only the calls that need it (with 503), while
// listing and reading media rows keep working.
type Function struct {
	platform.Lifecycle
}

// New returns a media function that is configured by Start.
func New() *Function {
	return &Function{Lifecycle: platform.Lifecycle{Name: "media"}}
}

// NewWithServices returns a media function that is ready to serve with already connected
// services and object store, for tests and the in-process gateway. logger may be nil for
// slog.Default(); the caller keeps ownership of svc.
func NewWithServices(cfg Config, svc *platform.Services, objects *objstore.Store, logger *slog.Logger) (*Function, error) {
	s, err := newServer(cfg, svc, objects)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	f := New()
	f.Serve(routes(s, logger), svc, false)
	return f, nil
}

// Start reads the configuration from env, connects to PostgreSQL and Redis, and prepares
// the S3 client. With S3_CREATE_BUCKET (local runs) it also creates the bucket if it is
// missing. An error names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return fmt.Errorf("media: start: %w", err)
	}
	objects, err := objstore.New(cfg.S3)
	if err != nil {
		return fmt.Errorf("media: start: %w", err)
	}
	if cfg.S3.CreateBucket {
		if err := objects.EnsureBucket(ctx); err != nil {
			return fmt.Errorf("media: start: S3_BUCKET: %w", err)
		}
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("media: start: %w", err)
	}
	s, err := newServer(cfg, svc, objects)
	if err != nil {
		svc.Close()
		return fmt.Errorf("media: start: %w", err)
	}
	f.Serve(routes(s, nil), svc, true)
	return nil
}

// loadConfig reads Config from env.
func loadConfig(env map[string]string) (Config, error) {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return Config{}, err
	}
	if err := config.Load(env, &cfg.S3); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
