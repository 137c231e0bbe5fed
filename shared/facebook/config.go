// Package facebook provides the Facebook Graph API as the project uses it, one way for
// the integrations function (connect, pages, push, disconnect, the data deletion callback)
// and the sync consumer (reading the user's posts): the app's settings, the OAuth dialog
// URL (golang.org/x/oauth2), the token exchanges, the Graph calls with appsecret_proof,
// Graph's error bodies and usage headers, and the signed_request of the data deletion
// callback. It holds no state and stores nothing; tokens reach it from the caller, which
// keeps them sealed at rest (shared/integration).
package facebook

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// Config is the Facebook app's settings, all optional: without FACEBOOK_APP_ID the
// integration is off (Configured reports false). Embed it in a function's config.
type Config struct {
	// AppID is the Facebook app's id (App Dashboard, Settings > Basic).
	AppID string `envconfig:"FACEBOOK_APP_ID"`
	// AppSecret is the app secret: it signs appsecret_proof and the data deletion
	// callback's signed_request. Secret.
	AppSecret string `envconfig:"FACEBOOK_APP_SECRET"`
	// RedirectURI is where the OAuth dialog sends the user back with the code, unless the
	// client names its own; it must be listed in the app's Valid OAuth Redirect URIs.
	RedirectURI string `envconfig:"FACEBOOK_REDIRECT_URI"`
	// APIVersion is the Graph API version every call names.
	APIVersion string `envconfig:"FACEBOOK_API_VERSION" default:"v25.0"`
	// GraphURL is the Graph API's base URL (tests point it at a fake).
	GraphURL string `envconfig:"FACEBOOK_GRAPH_URL" default:"https://graph.facebook.com"`
	// DialogURL is the base URL of the OAuth login dialog.
	DialogURL string `envconfig:"FACEBOOK_DIALOG_URL" default:"https://www.facebook.com"`
}

// Configured reports whether a Facebook app is set up (FACEBOOK_APP_ID is set).
func (c Config) Configured() bool { return c.AppID != "" }

var versionPattern = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// Validate checks the settings of a configured app; an unconfigured one is valid (the
// integration is simply off). Errors name the variable, never its value.
func (c Config) Validate() error {
	if !c.Configured() {
		return nil
	}
	if c.AppSecret == "" {
		return errors.New("facebook: FACEBOOK_APP_SECRET is required when FACEBOOK_APP_ID is set")
	}
	if !versionPattern.MatchString(c.APIVersion) {
		return errors.New("facebook: FACEBOOK_API_VERSION must look like v25.0")
	}
	for name, raw := range map[string]string{"FACEBOOK_GRAPH_URL": c.GraphURL, "FACEBOOK_DIALOG_URL": c.DialogURL} {
		if err := checkBaseURL(raw); err != nil {
			return fmt.Errorf("facebook: %s %w", name, err)
		}
	}
	if c.RedirectURI != "" {
		if err := CheckRedirectURI(c.RedirectURI); err != nil {
			return fmt.Errorf("facebook: FACEBOOK_REDIRECT_URI %w", err)
		}
	}
	return nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be an absolute http(s) URL without query or fragment")
	}
	return nil
}

// CheckRedirectURI checks an OAuth redirect URI: an absolute https URL (http only for a
// loopback host, as in local development) without a fragment, at most 2048 bytes.
// Facebook itself accepts only the URIs listed in the app's settings.
func CheckRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("must be an absolute URL without a fragment")
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return errors.New("must be an https URL (http only for localhost)")
	}
	return nil
}

// Scopes are the permissions the login dialog asks for: the Pages the user manages and
// posting to them (pages_show_list, pages_manage_posts, pages_read_engagement), and the
// user's own posts (user_posts, which needs App Review). Apps cannot post to a personal
// timeline since 2018.
var Scopes = []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement", "user_posts"}
