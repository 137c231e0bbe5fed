package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

type errorBody struct {
	Code string `json:"code"`
}

// callerTable serves GET /api/v1/t/key, which answers the caller and its master key (a
// test only: no handler ever sends a key), and GET /api/v1/t/open, which asks for the
// caller without Authenticate.
func callerTable(svc *platform.Services, kept *[]byte) http.Handler {
	key := func(w http.ResponseWriter, r *http.Request) {
		c, err := httpapi.CallerOf(r)
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		k, err := c.MasterKey()
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		*kept = k
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"user_id": c.UserID, "tier": c.Tier, "session_id": c.SessionID, "key": k})
	}
	open := func(w http.ResponseWriter, r *http.Request) {
		if _, err := httpapi.CallerOf(r); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	return httpapi.RouteTable{
		Service: "t", BasePath: "/api/v1/t", Verifier: svc.Verifier, Sessions: svc.Sessions,
		Routes: []httpapi.Route{
			{Method: http.MethodGet, Path: "/key", Handler: key},
			{Method: http.MethodGet, Path: "/open", Handler: open, Public: true},
		},
	}.Handler()
}

// TestCallerMasterKey: one outcome for every function. A uce session with a key gives the
// handler that key, wiped once the handler returns; a uce session opened without one is a
// 401 session_key_unavailable (media answered 500 before); an e2e session has none either.
func TestCallerMasterKey(t *testing.T) {
	svc := testenv.Services(t)
	var kept []byte
	h := callerTable(svc, &kept)
	uce, e2e := testenv.NewUser(t, svc, "uce"), testenv.NewUser(t, svc, "e2e")
	keyless := testenv.KeylessAccessToken(t, svc, uce)

	var got struct {
		UserID    string `json:"user_id"`
		Tier      string `json:"tier"`
		SessionID string `json:"session_id"`
		Key       []byte `json:"key"`
	}
	resp := testenv.Do(t, h, http.MethodGet, "/api/v1/t/key", uce.AccessToken, nil)
	resp.JSON(t, &got)
	if resp.Code != http.StatusOK || got.UserID != uce.ID || got.Tier != "uce" || got.SessionID != uce.SessionID || !bytes.Equal(got.Key, uce.MasterKey) {
		t.Fatalf("GET /key as uce = %d %+v, want 200 with the user, tier, session and master key", resp.Code, got)
	}
	if !bytes.Equal(kept, make([]byte, len(uce.MasterKey))) {
		t.Errorf("the master key handed to the handler is %x after the request, want it wiped", kept)
	}

	for name, token := range map[string]string{"uce session without a key": keyless, "e2e session": e2e.AccessToken} {
		resp := testenv.Do(t, h, http.MethodGet, "/api/v1/t/key", token, nil)
		var e errorBody
		resp.JSON(t, &e)
		if resp.Code != http.StatusUnauthorized || e.Code != "session_key_unavailable" {
			t.Errorf("GET /key with a %s = %d %s, want 401 session_key_unavailable", name, resp.Code, resp.Body)
		}
	}
}

// TestCallerOfWithoutAuthenticate: a handler that asks for the caller of a request that
// passed no Authenticate answers 401 in the error shape, never a panic or a 500.
func TestCallerOfWithoutAuthenticate(t *testing.T) {
	var kept []byte
	h := callerTable(testenv.Services(t), &kept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/t/open", nil).WithContext(context.Background()))
	if rec.Code != http.StatusUnauthorized || !bytes.Contains(rec.Body.Bytes(), []byte(`"code":"not_authenticated"`)) {
		t.Errorf("GET /open = %d %s, want 401 not_authenticated", rec.Code, rec.Body)
	}
}
