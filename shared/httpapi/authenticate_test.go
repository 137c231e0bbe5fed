package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/testenv"
)

// TestAuthenticateSessionStoreDown: a session store that cannot reach Redis goes through
// Fail like every other error: 503 service_unavailable with Retry-After while the client
// waits, 499 once it has left; a live session passes and an unknown one is a 401.
func TestAuthenticateSessionStoreDown(t *testing.T) {
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "e2e")
	key, err := base64.StdEncoding.DecodeString(testenv.Env(t)["SESSION_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens on port 1
	t.Cleanup(func() { dead.Close() })
	down, err := session.NewStore(dead, key)
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.NewUser(t, svc, "e2e")
	if err := svc.Sessions.Revoke(context.Background(), other.SessionID); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name           string
		sessions       httpapi.SessionGetter
		token          string
		ctx            context.Context
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{"live session", svc.Sessions, u.AccessToken, context.Background(), http.StatusNoContent, "", ""},
		{"revoked session", svc.Sessions, other.AccessToken, context.Background(), http.StatusUnauthorized, "not_authenticated", ""},
		{"Redis down", down, u.AccessToken, context.Background(), http.StatusServiceUnavailable, "service_unavailable", "5"},
		{"Redis down, client gone", down, u.AccessToken, canceled, 499, "client_closed_request", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/entries", nil).WithContext(tt.ctx)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			httpapi.Authenticate(svc.Verifier, tt.sessions, next).ServeHTTP(rec, req)
			var body struct {
				Code string `json:"code"`
			}
			if tt.wantCode != "" {
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %q: %v", rec.Body, err)
				}
			}
			if rec.Code != tt.wantStatus || body.Code != tt.wantCode || rec.Header().Get("Retry-After") != tt.wantRetryAfter {
				t.Errorf("Authenticate() = %d %q (Retry-After %q), want %d %q (Retry-After %q)",
					rec.Code, body.Code, rec.Header().Get("Retry-After"), tt.wantStatus, tt.wantCode, tt.wantRetryAfter)
			}
		})
	}
}
