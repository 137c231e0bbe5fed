// Package integrations is the integrations function: /api/v1/integrations, the user's
// connected outside accounts (Facebook today). It runs the OAuth connect (the dialog URL,
// a single-use state bound to the user in Redis, the code and long-lived token
// exchanges), lists and disconnects integrations, lists the Pages a user may post to,
// pushes an entry to a Page, queues pulls for the sync consumer (functions/fbsync), and
// answers Facebook's data deletion callback with a status URL it also serves. Provider
// tokens are sealed at rest under INTEGRATION_TOKEN_KEY (shared/integration); every Graph
// call sends appsecret_proof (shared/facebook). Without FACEBOOK_APP_ID every call
// answers 503 integration_not_configured.
package integrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/platform"
)

// Config is the integrations function's settings, read from the environment at Start.
type Config struct {
	platform.Config
	// Facebook is the Facebook app (FACEBOOK_*), all optional: without an app id the
	// integration is off.
	Facebook facebook.Config
	// TokenKey is INTEGRATION_TOKEN_KEY, the standard base64 of the 32-byte key that seals
	// provider tokens at rest; required when a Facebook app is configured. Secret.
	TokenKey string `envconfig:"INTEGRATION_TOKEN_KEY"`
	// Sink is where the relay sends the outbox's events (integration.pull.requested):
	// K_SINK; empty sends none, and they wait in the outbox for another relay.
	Sink string `envconfig:"K_SINK"`
	// PublicURL is the API's public base URL (PUBLIC_URL, as the gateway's): the data
	// deletion status URL handed to Facebook starts with it. When empty, it is taken from
	// the request's forwarded host.
	PublicURL string `envconfig:"PUBLIC_URL"`
}

// Function is the integrations function in knative/func's shape: New, then Start, Handle,
// Ready, Alive and Stop (the embedded Lifecycle provides all but Start).
type Function struct {
	platform.Lifecycle
}

// New returns an integrations function that is configured by Start.
func New() *Function {
	return &Function{Lifecycle: platform.Lifecycle{Name: "integrations"}}
}

// NewWithServices returns an integrations function that is ready to serve with already
// connected services, for tests and the in-process gateway. httpClient (nil for a default
// one) makes the Graph calls; logger may be nil for slog.Default(); the caller keeps
// ownership of svc.
func NewWithServices(cfg Config, svc *platform.Services, httpClient *http.Client, logger *slog.Logger) (*Function, error) {
	s, err := newServer(cfg, svc, httpClient)
	if err != nil {
		return nil, fmt.Errorf("integrations: %w", err)
	}
	f := New()
	s.relay.Start()
	f.Serve(routes(s, logger), svc, false, s.relay.Stop)
	return f, nil
}

// Start reads the configuration from env and connects to PostgreSQL and Redis. An error
// names the setting at fault and makes readiness fail.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		return fmt.Errorf("integrations: start: %w", err)
	}
	svc, err := platform.Connect(ctx, cfg.Config)
	if err != nil {
		return fmt.Errorf("integrations: start: %w", err)
	}
	s, err := newServer(cfg, svc, nil)
	if err != nil {
		svc.Close()
		return fmt.Errorf("integrations: start: %w", err)
	}
	s.relay.Start()
	f.Serve(routes(s, nil), svc, true, s.relay.Stop)
	return nil
}

// newServer checks the settings and builds what the handlers share. An unconfigured
// Facebook app is no error: the handlers answer 503 integration_not_configured.
func newServer(cfg Config, svc *platform.Services, httpClient *http.Client) (*server, error) {
	if svc == nil {
		return nil, errors.New("no services")
	}
	relay, err := outbox.NewRelay(svc.DB, outbox.RelayConfig{Sink: cfg.Sink})
	if err != nil {
		return nil, fmt.Errorf("K_SINK: %w", err)
	}
	s := &server{svc: svc, relay: relay, publicURL: cfg.PublicURL, stateTTL: stateTTL}
	if cfg.PublicURL != "" {
		if err := facebook.CheckRedirectURI(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("PUBLIC_URL %w", err)
		}
	}
	if !cfg.Facebook.Configured() {
		return s, nil
	}
	if s.fb, err = facebook.NewClient(cfg.Facebook, httpClient); err != nil {
		return nil, err
	}
	if cfg.TokenKey == "" {
		return nil, errors.New("INTEGRATION_TOKEN_KEY is required when FACEBOOK_APP_ID is set")
	}
	if s.tokens, err = integration.NewTokens(cfg.TokenKey); err != nil {
		return nil, err
	}
	s.appSecret = cfg.Facebook.AppSecret
	return s, nil
}
