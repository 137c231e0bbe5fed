package auth

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/testenv"
)

// TestRedisDownAnswers503: with Redis out of reach, every call that needs it (the rate
// limiter's counters, the session store's records, Authenticate's session check) answers
// 503 service_unavailable with Retry-After, each adapter's own wrapping of
// outage.ErrUnavailable mapped by httpapi.Fail, none re-marked by auth.
func TestRedisDownAnswers503(t *testing.T) {
	env := testenv.Env(t)
	var cfg Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	live := testenv.Services(t)
	u := testenv.NewUser(t, live, "e2e") // a valid token; its session lives in the real Redis
	key, err := base64.StdEncoding.DecodeString(env["SESSION_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens on port 1
	t.Cleanup(func() { dead.Close() })
	svc := *live
	svc.Redis = dead
	if svc.Sessions, err = session.NewStore(dead, key); err != nil {
		t.Fatal(err)
	}
	f, err := NewWithServices(cfg, &svc, nil)
	if err != nil {
		t.Fatalf("NewWithServices() = %v", err)
	}
	h := http.HandlerFunc(f.Handle)

	tests := []struct {
		name, path, token string
		body              any
	}{
		{"login (rate limiter)", "/api/v1/auth/login", "", map[string]string{"email": randomEmail(), "password": "correct horse battery"}},
		{"signup (rate limiter)", "/api/v1/auth/signup", "", map[string]string{"email": randomEmail(), "password": "correct horse battery", "encryption_tier": "uce"}},
		{"refresh (session store)", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.SessionID + ".secret"}},
		{"logout (Authenticate)", "/api/v1/auth/logout", u.AccessToken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, h, randomIP(t), http.MethodPost, tt.path, tt.token, tt.body)
			assertError(t, resp, http.StatusServiceUnavailable, "service_unavailable")
			if got := resp.Header().Get("Retry-After"); got != "5" {
				t.Errorf("POST %s Retry-After = %q, want 5", tt.path, got)
			}
		})
	}
}
