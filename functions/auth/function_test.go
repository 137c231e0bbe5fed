package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/storage"
	"github.com/xmojo/diary/shared/testenv"
)

func TestNotStarted(t *testing.T) {
	f := New()
	resp := testenv.Do(t, http.HandlerFunc(f.Handle), "POST", "/api/v1/auth/login", "", map[string]string{})
	assertError(t, resp, http.StatusServiceUnavailable, "service_unavailable")
	if resp.Header().Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	if ok, err := f.Ready(context.Background()); ok || err == nil {
		t.Errorf("Ready() before Start = %v, %v, want false and an error", ok, err)
	}
	if ok, err := f.Alive(context.Background()); !ok || err != nil {
		t.Errorf("Alive() = %v, %v, want true, nil", ok, err)
	}
}

// TestStart checks that Start names the setting at fault. Removing a variable changes the
// process environment, so it does not run in parallel.
func TestStart(t *testing.T) {
	base := testenv.Env(t)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    map[string]string // "" deletes the variable
		wantErr string            // the variable the error must name; "" for success
	}{
		{"complete", nil, ""},
		{"no signing key", map[string]string{"JWT_PRIVATE_KEY": ""}, "JWT_PRIVATE_KEY"},
		{"signing key not base64", map[string]string{"JWT_PRIVATE_KEY": "%%%"}, "JWT_PRIVATE_KEY"},
		{"signing key of another pair", map[string]string{"JWT_PRIVATE_KEY": base64.StdEncoding.EncodeToString(otherKey.Seed())}, "JWT_PRIVATE_KEY"},
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL"},
		{"bad trusted proxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "TRUSTED_PROXIES"},
		{"negative proxy hops", map[string]string{"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS"},
		{"bcrypt bound zero", map[string]string{"BCRYPT_CONCURRENCY": "0"}, "BCRYPT_CONCURRENCY"},
		{"negative free failures", map[string]string{"LOGIN_FREE_FAILURES": "-1"}, "LOGIN_FREE_FAILURES"},
		{"zero failure delay", map[string]string{"LOGIN_FAILURE_DELAY": "0s"}, "LOGIN_FAILURE_DELAY"},
		{"bad known-address lifetime", map[string]string{"LOGIN_KNOWN_ADDRESS_TTL": "forever"}, "LOGIN_KNOWN_ADDRESS_TTL"},
		{"KDF bound not a number", map[string]string{"KDF_CONCURRENCY": "many"}, "KDF_CONCURRENCY"},
		{"KDF bound zero", map[string]string{"KDF_CONCURRENCY": "0"}, "KDF_CONCURRENCY"},
		{"negative quota", map[string]string{"STORAGE_QUOTA_BYTES": "-1"}, "STORAGE_QUOTA_BYTES"},
		{"zero rate limit", map[string]string{"LOGIN_RATE_IP_LIMIT": "0"}, "LOGIN_RATE_IP_LIMIT"},
		{"bad window", map[string]string{"LOGIN_RATE_ACCOUNT_WINDOW": "soon"}, "LOGIN_RATE_ACCOUNT_WINDOW"},
		{"zero signup limit", map[string]string{"SIGNUP_RATE_IP_LIMIT": "0"}, "SIGNUP_RATE_IP_LIMIT"},
		{"bad signup window", map[string]string{"SIGNUP_RATE_IP_WINDOW": "-1h"}, "SIGNUP_RATE_IP_WINDOW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(base)
			for k, v := range tt.edit {
				if v == "" {
					delete(env, k)
					t.Setenv(k, "")
					os.Unsetenv(k)
				} else {
					env[k] = v
				}
			}
			f := New()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := f.Start(ctx, env)
			defer f.Stop(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start() = %v, want an error naming %s", err, tt.wantErr)
				}
				if v := base[tt.wantErr]; len(v) > 8 && strings.Contains(err.Error(), v) {
					t.Errorf("Start() error quotes the value of %s", tt.wantErr)
				}
				if ok, _ := f.Ready(ctx); ok {
					t.Errorf("Ready() after a failed Start = true, want false")
				}
				return
			}
			if err != nil {
				t.Fatalf("Start() = %v, want nil", err)
			}
			if ok, err := f.Ready(ctx); !ok || err != nil {
				t.Errorf("Ready() = %v, %v, want true, nil", ok, err)
			}
			resp := testenv.Do(t, http.HandlerFunc(f.Handle), "POST", "/api/v1/auth/login", "", map[string]string{"email": "", "password": ""})
			assertError(t, resp, http.StatusUnprocessableEntity, "validation_error")
		})
	}
}

// TestConfigDefaults checks the documented defaults. It changes the process environment,
// so it does not run in parallel.
func TestConfigDefaults(t *testing.T) {
	env := testenv.Env(t)
	for _, k := range []string{"STORAGE_QUOTA_BYTES", "KDF_CONCURRENCY", "BCRYPT_CONCURRENCY", "LOGIN_RATE_IP_LIMIT", "LOGIN_RATE_IP_WINDOW",
		"LOGIN_FREE_FAILURES", "LOGIN_FAILURE_DELAY", "LOGIN_KNOWN_ADDRESS_TTL",
		"LOGIN_RATE_ACCOUNT_LIMIT", "LOGIN_RATE_ACCOUNT_WINDOW", "SIGNUP_RATE_IP_LIMIT", "SIGNUP_RATE_IP_WINDOW",
		"TRUSTED_PROXIES", "TRUSTED_PROXY_HOPS", "FACEBOOK_APP_ID", "FACEBOOK_API_VERSION", "FACEBOOK_GRAPH_URL",
		"FACEBOOK_DIALOG_URL", "SESSION_MAX_AGE", "K_SINK"} {
		delete(env, k)
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	want := Config{Config: cfg.Config, JWTPrivateKey: cfg.JWTPrivateKey,
		Quota: storage.Quota{QuotaBytes: 1 << 30}, KDFConcurrency: 2, BcryptConcurrency: 2,
		LoginRateIPLimit: 10, LoginRateIPWindow: time.Minute,
		LoginFreeFailures: 3, LoginFailureDelay: time.Second,
		LoginRateAccountLimit: 5, LoginRateAccountWindow: 15 * time.Minute, LoginKnownAddressTTL: 720 * time.Hour,
		SignupRateIPLimit: 20, SignupRateIPWindow: time.Hour,
		Facebook:      facebook.Config{APIVersion: "v25.0", GraphURL: "https://graph.facebook.com", DialogURL: "https://www.facebook.com"},
		SessionMaxAge: 90 * 24 * time.Hour}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}
