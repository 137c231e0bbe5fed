// Package archive is the archive function: a user's whole diary out, and imports in, under
// /api/v1/export and /api/v1/imports.
//
// GET /api/v1/export streams a zip (archive/zip straight onto the response: entries are
// read in keyset batches inside one read-only snapshot, media bytes copied from S3 object
// by object; nothing holds the whole archive) in the project's own lossless format
// (diary), as Markdown files with YAML front matter, or as a Day One journal. The media
// bytes pass through the function here: the one documented exception to "no media byte
// passes through a function", since the user asked for one file.
//
// POST /api/v1/imports hands out a presigned PUT of the zip to a staging key under the
// user's prefix, bound to its length and SHA-256 like a media upload; POST
// /imports/{id}/start queues a job and emits import.requested, which the importer
// (functions/importer) consumes. GET /imports and /imports/{id} show how it went, and for
// a uce user they also give the media a uce import brought in their media rows: the
// importer holds no master key, and a uce media's filename is sealed under it.
package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/storage"
)

// Config is the archive function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// S3 is the object store's part (S3_ENDPOINT, S3_BUCKET, ...), read on its own by
	// loadConfig: two embedded structs both named Config cannot sit side by side.
	S3 objstore.Config `ignored:"true"`
	// Quota is STORAGE_QUOTA_BYTES: an import's zip must fit in the user's headroom.
	storage.Quota
	// Sink is where the relay sends the outbox's events: K_SINK, injected by a
	// SinkBinding in the cluster and by the local runner at home. Empty: this function
	// sends none, and its events wait in the outbox for another relay (the janitor's
	// sweep).
	Sink string `envconfig:"K_SINK"`
}

// Function is the archive function in knative/func's shape: New, then Start, Handle,
// Ready, Alive and Stop (the last four from the embedded Lifecycle). Ready probes
// PostgreSQL and Redis; S3 failures fail only the calls that need it, with 503.
type Function struct {
	platform.Lifecycle
}

// New returns an archive function that is configured by Start.
func New() *Function {
	return &Function{Lifecycle: platform.Lifecycle{Name: "archive"}}
}

// NewWithServices returns an archive function that is ready to serve with already
// connected services and object store, for tests and the in-process gateway. logger may
// be nil for slog.Default(); the caller keeps ownership of svc.
func NewWithServices(cfg Config, svc *platform.Services, objects *objstore.Store, logger *slog.Logger) (*Function, error) {
	s, err := newServer(cfg, svc, objects)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	f := New()
	s.relay.Start()
	f.Serve(routes(s, logger), svc, false, s.relay.Stop)
	return f, nil
}

// Start reads the configuration from env, connects to PostgreSQL and Redis, and prepares
// the S3 client (creating the bucket with S3_CREATE_BUCKET, for local runs). An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return fmt.Errorf("archive: start: %w", err)
	}
	objects, err := objstore.New(cfg.S3)
	if err != nil {
		return fmt.Errorf("archive: start: %w", err)
	}
	if cfg.S3.CreateBucket {
		if err := objects.EnsureBucket(ctx); err != nil {
			return fmt.Errorf("archive: start: S3_BUCKET: %w", err)
		}
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("archive: start: %w", err)
	}
	s, err := newServer(cfg, svc, objects)
	if err != nil {
		svc.Close()
		return fmt.Errorf("archive: start: %w", err)
	}
	s.relay.Start()
	f.Serve(routes(s, nil), svc, true, s.relay.Stop)
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

// server holds what the handlers share.
type server struct {
	svc     *platform.Services
	objects *objstore.Store
	quota   storage.Quota
	// relay sends the import.requested events startImport writes to the outbox.
	relay *outbox.Relay
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
	relay, err := outbox.NewRelay(svc.DB, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return nil, fmt.Errorf("K_SINK: %w", err)
	}
	return &server{svc: svc, objects: objects, quota: cfg.Quota, relay: relay}, nil
}
