package integrations

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/testenv"
)

func TestNotConfiguredAnswers503(t *testing.T) {
	svc := testenv.Services(t)
	s, err := newServer(Config{}, svc, nil)
	if err != nil {
		t.Fatalf("newServer(no app) = %v", err)
	}
	h := routes(s, nil)
	u := testenv.NewUser(t, svc, "uce")
	for _, rt := range routeTable(s) {
		path := basePath + strings.NewReplacer("{id}", "5d9f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f", "{code}", strings.Repeat("a", 32)).Replace(rt.Path)
		var body any
		if rt.Method == http.MethodPost {
			body = map[string]any{}
		}
		res := testenv.Do(t, h, rt.Method, path, u.AccessToken, body)
		wantError(t, res, http.StatusServiceUnavailable, "integration_not_configured")
	}
}

func TestConfigNeedsTheTokenKey(t *testing.T) {
	svc := testenv.Services(t)
	cfg := Config{Facebook: facebook.Config{AppID: "1", AppSecret: "s", APIVersion: "v25.0",
		GraphURL: "https://graph.facebook.com", DialogURL: "https://www.facebook.com"}}
	if _, err := newServer(cfg, svc, nil); err == nil || !strings.Contains(err.Error(), "INTEGRATION_TOKEN_KEY") {
		t.Errorf("newServer(app without INTEGRATION_TOKEN_KEY) = %v, want an error naming it", err)
	}
	cfg.TokenKey = "c2hvcnQ="
	if _, err := newServer(cfg, svc, nil); err == nil || !strings.Contains(err.Error(), "INTEGRATION_TOKEN_KEY") {
		t.Errorf("newServer(short INTEGRATION_TOKEN_KEY) = %v, want an error naming it", err)
	}
	cfg.TokenKey, cfg.Facebook.AppSecret = "", ""
	if _, err := newServer(cfg, svc, nil); err == nil || !strings.Contains(err.Error(), "FACEBOOK_APP_SECRET") {
		t.Errorf("newServer(no FACEBOOK_APP_SECRET) = %v, want an error naming it", err)
	}
}

func TestConnectAndCallback(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	fb := h.addFacebookUser(t)

	c := decode[connectResponse](t, h.must(t, u, http.StatusOK, "POST", basePath+"/facebook/connect", nil))
	dialog, q := queryParams(t, c.AuthorizationURL)
	if want := h.fake.URL + "/v25.0/dialog/oauth"; dialog.Scheme+"://"+dialog.Host+dialog.Path != want {
		t.Errorf("authorization_url = %s, want the dialog at %s", c.AuthorizationURL, want)
	}
	for k, want := range map[string]string{"client_id": testAppID, "redirect_uri": testRedirect, "state": c.State, "response_type": "code",
		"scope": "pages_show_list,pages_manage_posts,pages_read_engagement,user_posts"} {
		if q.Get(k) != want {
			t.Errorf("authorization_url %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(c.State) < 40 {
		t.Errorf("state %q is too short to be 256 random bits", c.State)
	}
	// Redis keeps the state for 10 minutes, under a hash: neither the state nor anything
	// it could be forged from is there in the clear.
	if key := testenv.RedisHolding(t, h.svc.Redis, c.State); key != "" {
		t.Errorf("Redis key %q holds the state in the clear", key)
	}
	ttl := h.svc.Redis.TTL(t.Context(), stateKey(u.ID, c.State)).Val()
	if ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("state TTL = %v, want 10 minutes", ttl)
	}

	// Another user's callback with this state is refused, and does not spend it.
	code := h.fake.Authorize(fb.ID, testRedirect)
	wantError(t, h.do(t, other, "POST", basePath+"/facebook/callback", map[string]string{"code": code, "state": c.State}),
		http.StatusBadRequest, "invalid_state")
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/callback", map[string]string{"code": code, "state": "unknown-state"}),
		http.StatusBadRequest, "invalid_state")

	res := h.must(t, u, http.StatusCreated, "POST", basePath+"/facebook/callback", map[string]string{"code": code, "state": c.State})
	i := decode[integrationView](t, res)
	if i.Provider != "facebook" || i.ExternalAccountID != fb.ID || i.DisplayName != fb.Name || i.Status != "active" || i.LastSyncedAt != nil {
		t.Errorf("callback = %+v, want an active facebook integration of %s", i, fb.ID)
	}
	// A spent state is refused.
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/callback", map[string]string{"code": code, "state": c.State}),
		http.StatusBadRequest, "invalid_state")
	// An expired one too: Redis drops it after its TTL, as this does now.
	c2 := decode[connectResponse](t, h.must(t, u, http.StatusOK, "POST", basePath+"/facebook/connect", map[string]any{}))
	h.svc.Redis.Del(t.Context(), stateKey(u.ID, c2.State))
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/callback", map[string]string{"code": "x", "state": c2.State}),
		http.StatusBadRequest, "invalid_state")

	// The token is stored sealed, bound to the row: it opens with the key, and only there.
	stored, err := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.srv.tokens.Open(stored)
	if err != nil || !strings.HasPrefix(tok, "EAAlong") {
		t.Errorf("the stored token opens to %q, %v; want the long-lived token", tok, err)
	}
	moved := stored
	moved.ID = other.ID
	if _, err := h.srv.tokens.Open(moved); err == nil {
		t.Error("the sealed token opened for another row")
	}

	// The first pull is queued, and its event carries ids only.
	if stored.PendingJobID == nil {
		t.Fatal("no pull queued after the connect")
	}
	j, err := job.Get(t.Context(), h.svc.DB, u.ID, *stored.PendingJobID)
	if err != nil || j.Kind != integration.JobKind || j.Status != job.Queued {
		t.Errorf("pull job = %+v, %v; want a queued facebook_pull", j, err)
	}
	// Written in the connect's transaction, and relayed with the row's id.
	rows := testenv.Outbox(t, h.svc.DB, u.ID)
	evs := h.delivered(t, u.ID)
	if len(rows) != 1 || len(evs) != 1 || evs[0].ID != rows[0].ID || evs[0].Type != eventing.TypeIntegrationPullRequested || evs[0].Source != eventing.SourceIntegrations || evs[0].Subject != i.ID {
		t.Fatalf("events = %+v, want one pull request for %s", evs, i.ID)
	}
	var data map[string]any
	if err := json.Unmarshal(evs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"user_id": u.ID, "integration_id": i.ID, "job_id": *stored.PendingJobID}
	if len(data) != len(want) || data["user_id"] != want["user_id"] || data["integration_id"] != want["integration_id"] || data["job_id"] != want["job_id"] {
		t.Errorf("event data = %v, want %v", data, want)
	}

	// Connecting the same account again reuses the row, active again.
	again := h.connect(t, u, fb.ID)
	if again.ID != i.ID {
		t.Errorf("reconnect = integration %s, want the same row %s", again.ID, i.ID)
	}
	list := decode[struct{ Items []integrationView }](t, h.must(t, u, http.StatusOK, "GET", basePath, nil))
	if len(list.Items) != 1 || list.Items[0].ID != i.ID {
		t.Errorf("list = %+v, want the one integration", list.Items)
	}

	// Every Graph call with a token carried its appsecret_proof.
	for _, call := range h.fake.Calls() {
		if call.Token != "" && !call.Proof {
			t.Errorf("%s %s was sent without a valid appsecret_proof", call.Method, call.Path)
		}
	}
}

func TestCallbackWithARefusedCode(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	fb := h.addFacebookUser(t)
	// The dialog was opened for another redirect URI than the one the code is for.
	c := decode[connectResponse](t, h.must(t, u, http.StatusOK, "POST", basePath+"/facebook/connect",
		map[string]string{"redirect_uri": "https://other.example.test/cb"}))
	code := h.fake.Authorize(fb.ID, testRedirect)
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/callback", map[string]string{"code": code, "state": c.State}),
		http.StatusBadRequest, "facebook_code_rejected")
	list := decode[struct{ Items []integrationView }](t, h.must(t, u, http.StatusOK, "GET", basePath, nil))
	if len(list.Items) != 0 {
		t.Errorf("list after a refused code = %+v, want none", list.Items)
	}
}

func TestConnectValidatesTheRedirectURI(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	for _, uri := range []string{"http://evil.example/cb", "not a url", "https://app.example/cb#frag", "/relative"} {
		e := wantError(t, h.do(t, u, "POST", basePath+"/facebook/connect", map[string]string{"redirect_uri": uri}),
			http.StatusUnprocessableEntity, "validation_error")
		if e.Fields["redirect_uri"] == "" {
			t.Errorf("connect(%q) fields = %v, want redirect_uri", uri, e.Fields)
		}
	}
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/connect", map[string]string{"bogus": "x"}), http.StatusBadRequest, "unknown_field")
	c := decode[connectResponse](t, h.must(t, u, http.StatusOK, "POST", basePath+"/facebook/connect",
		map[string]string{"redirect_uri": "http://localhost:5173/cb"}))
	if _, q := queryParams(t, c.AuthorizationURL); q.Get("redirect_uri") != "http://localhost:5173/cb" {
		t.Errorf("redirect_uri = %q, want the client's", q.Get("redirect_uri"))
	}
}

func TestPages(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	wantError(t, h.do(t, u, "GET", basePath+"/facebook/pages", nil), http.StatusConflict, "integration_not_connected")
	fb := h.addFacebookUser(t)
	h.connect(t, u, fb.ID)
	got := decode[struct{ Items []pageView }](t, h.must(t, u, http.StatusOK, "GET", basePath+"/facebook/pages", nil))
	if len(got.Items) != 1 || got.Items[0].ID != fb.Pages[0].ID || got.Items[0].Name != fb.Pages[0].Name {
		t.Errorf("pages = %+v, want only %s (the other Page allows no posting)", got.Items, fb.Pages[0].ID)
	}
}

func TestPush(t *testing.T) {
	h := newHarness(t)
	uce := testenv.NewUser(t, h.svc, "uce")
	e2e := testenv.NewUser(t, h.svc, "e2e")
	fbU, fbE := h.addFacebookUser(t), h.addFacebookUser(t)
	h.connect(t, uce, fbU.ID)
	h.connect(t, e2e, fbE.ID)
	title := "A walk"
	uceEntry := h.insertEntry(t, uce, &title, "by the river")
	e2eEntry := h.insertEntry(t, e2e, nil, "")
	push := basePath + "/facebook/push"

	// uce: the server decrypts the entry and posts its title and content.
	res := h.must(t, uce, http.StatusCreated, "POST", push, map[string]string{"entry_id": uceEntry, "page_id": fbU.Pages[0].ID})
	first := decode[pushResponse](t, res)
	if !strings.HasPrefix(first.ExternalPostID, fbU.Pages[0].ID+"_") {
		t.Errorf("external_post_id = %q, want a post of the Page", first.ExternalPostID)
	}
	if got := h.fake.Published(fbU.ID, fbU.Pages[0].ID); len(got) != 1 || got[0] != "A walk\n\nby the river" {
		t.Errorf("published = %q, want the entry's title and content", got)
	}
	// Twice to the same Page: 409 with the earlier post, and nothing posted.
	e := wantError(t, h.do(t, uce, "POST", push, map[string]string{"entry_id": uceEntry, "page_id": fbU.Pages[0].ID}),
		http.StatusConflict, "already_pushed")
	if e.ExternalPostID != first.ExternalPostID {
		t.Errorf("already_pushed external_post_id = %q, want %q", e.ExternalPostID, first.ExternalPostID)
	}
	if got := h.fake.Published(fbU.ID, fbU.Pages[0].ID); len(got) != 1 {
		t.Errorf("a second push posted again: %q", got)
	}

	// e2e: message is required, and is what is posted.
	e = wantError(t, h.do(t, e2e, "POST", push, map[string]string{"entry_id": e2eEntry, "page_id": fbE.Pages[0].ID}),
		http.StatusUnprocessableEntity, "validation_error")
	if e.Fields["message"] == "" {
		t.Errorf("e2e push without message fields = %v, want message", e.Fields)
	}
	h.must(t, e2e, http.StatusCreated, "POST", push, map[string]string{"entry_id": e2eEntry, "page_id": fbE.Pages[0].ID, "message": "from the client"})
	if got := h.fake.Published(fbE.ID, fbE.Pages[0].ID); len(got) != 1 || got[0] != "from the client" {
		t.Errorf("published = %q, want the client's message", got)
	}

	tests := []struct {
		name   string
		user   testenv.User
		body   map[string]string
		status int
		code   string
	}{
		{"another user's entry", e2e, map[string]string{"entry_id": uceEntry, "page_id": fbE.Pages[0].ID, "message": "x"}, 404, "not_found"},
		{"a Page the user may not post to", uce, map[string]string{"entry_id": h.insertEntry(t, uce, nil, "x"), "page_id": fbU.Pages[1].ID}, 404, "page_not_found"},
		{"another user's Page", uce, map[string]string{"entry_id": h.insertEntry(t, uce, nil, "y"), "page_id": fbE.Pages[0].ID}, 404, "page_not_found"},
		{"a bad entry id", uce, map[string]string{"entry_id": "nope", "page_id": fbU.Pages[0].ID}, 422, "validation_error"},
		{"an empty message", uce, map[string]string{"entry_id": uceEntry, "page_id": fbU.Pages[0].ID, "message": ""}, 422, "validation_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.do(t, tt.user, "POST", push, tt.body), tt.status, tt.code)
		})
	}
	// A failed push leaves no claim behind: the entry can go to the right Page later.
	unpushed := tests[1].body["entry_id"]
	h.must(t, uce, http.StatusCreated, "POST", push, map[string]string{"entry_id": unpushed, "page_id": fbU.Pages[0].ID})

	// A uce session without its key cannot decrypt the entry.
	keyless := uce
	keyless.AccessToken = testenv.KeylessAccessToken(t, h.svc, uce)
	wantError(t, h.do(t, keyless, "POST", push, map[string]string{"entry_id": h.insertEntry(t, uce, nil, "z"), "page_id": fbU.Pages[0].ID}),
		http.StatusUnauthorized, "session_key_unavailable")
}

func TestPull(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/pull", nil), http.StatusConflict, "integration_not_connected")
	fb := h.addFacebookUser(t)
	i := h.connect(t, u, fb.ID)
	stored, _ := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)

	// A pull while the connect's pull is pending answers that job.
	p := decode[map[string]string](t, h.must(t, u, http.StatusAccepted, "POST", basePath+"/facebook/pull", nil))
	if p["job_id"] != *stored.PendingJobID {
		t.Errorf("pull = %v, want the pending job %s", p, *stored.PendingJobID)
	}
	// Once it finished, a pull queues a new one.
	if err := integration.FinishSync(t.Context(), h.svc.DB, stored, integration.SyncResult{}); err != nil {
		t.Fatal(err)
	}
	p2 := decode[map[string]string](t, h.must(t, u, http.StatusAccepted, "POST", basePath+"/facebook/pull", map[string]any{}))
	if p2["job_id"] == p["job_id"] {
		t.Errorf("pull after the sync finished = %v, want a new job", p2)
	}
	if j, err := job.Get(t.Context(), h.svc.DB, u.ID, p["job_id"]); err != nil || j.Status != job.Succeeded {
		t.Errorf("finished pull job = %+v, %v; want succeeded", j, err)
	}
	if n := len(testenv.Outbox(t, h.svc.DB, u.ID)); n != 3 {
		t.Errorf("%d events, want 3 (connect and two pulls)", n)
	}
}

func TestGraphErrorsAreClientErrors(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	fb := h.addFacebookUser(t)
	i := h.connect(t, u, fb.ID)
	pages := basePath + "/facebook/pages"

	h.fake.FailNext("GET /me/accounts", 400, facebook.CodeAPIUserTooManyCalls, 0, "(#17) User request limit reached")
	res := h.do(t, u, "GET", pages, nil)
	wantError(t, res, http.StatusTooManyRequests, "facebook_rate_limited")
	if res.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	h.fake.FailNext("GET /me/accounts", 403, facebook.CodeAPIPermissionDenied, 0, "(#10) Permission denied")
	wantError(t, h.do(t, u, "GET", pages, nil), http.StatusForbidden, "facebook_permission_denied")
	h.fake.FailNext("GET /me/accounts", 500, 2, 0, "An unexpected error has occurred. Please retry your request later.")
	wantError(t, h.do(t, u, "GET", pages, nil), http.StatusBadGateway, "facebook_error")

	// An expired token: 409 needs_reauth, and the integration says so until a reconnect.
	h.fake.ExpireTokens(fb.ID)
	wantError(t, h.do(t, u, "GET", pages, nil), http.StatusConflict, "needs_reauth")
	list := decode[struct{ Items []integrationView }](t, h.must(t, u, http.StatusOK, "GET", basePath, nil))
	if len(list.Items) != 1 || list.Items[0].Status != "needs_reauth" {
		t.Errorf("list = %+v, want needs_reauth", list.Items)
	}
	wantError(t, h.do(t, u, "POST", basePath+"/facebook/pull", nil), http.StatusConflict, "needs_reauth")
	if again := h.connect(t, u, fb.ID); again.ID != i.ID || again.Status != "active" {
		t.Errorf("reconnect = %+v, want %s active again", again, i.ID)
	}

	// Facebook down: 503 with Retry-After, never a 500.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer down.Close()
	cfg := h.fake.Config(testRedirect)
	cfg.GraphURL = down.URL
	s, err := newServer(Config{Facebook: cfg, TokenKey: h.tokKey}, h.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	res = testenv.Do(t, routes(s, nil), "GET", pages, u.AccessToken, nil)
	wantError(t, res, http.StatusServiceUnavailable, "facebook_unavailable")
	if res.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestDisconnect(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	fb := h.addFacebookUser(t)
	i := h.connect(t, u, fb.ID)
	stored, _ := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)
	if _, err := h.svc.DB.Exec(t.Context(), `
		INSERT INTO integration_imports (user_id, provider, external_account_id, external_post_id) VALUES ($1, 'facebook', $2, 'post-1')`,
		u.ID, fb.ID); err != nil {
		t.Fatal(err)
	}

	// Another user's integration is a 404 everywhere, and stays.
	wantError(t, h.do(t, other, "DELETE", basePath+"/"+i.ID, nil), http.StatusNotFound, "not_found")
	wantError(t, h.do(t, u, "DELETE", basePath+"/not-a-uuid", nil), http.StatusNotFound, "not_found")
	list := decode[struct{ Items []integrationView }](t, h.must(t, other, http.StatusOK, "GET", basePath, nil))
	if len(list.Items) != 0 {
		t.Errorf("another user's list = %+v, want empty", list.Items)
	}

	h.must(t, u, http.StatusNoContent, "DELETE", basePath+"/"+i.ID, nil)
	var tokens int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM integrations WHERE user_id = $1`, u.ID).Scan(&tokens); err != nil || tokens != 0 {
		t.Errorf("integrations rows after disconnect = %d, %v; want 0 (the token erased)", tokens, err)
	}
	var imports int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM integration_imports WHERE user_id = $1`, u.ID).Scan(&imports); err != nil || imports != 1 {
		t.Errorf("imports after disconnect = %d, %v; want the 1 kept against re-import", imports, err)
	}
	if n := h.fake.LiveTokens(fb.ID); n != 0 {
		t.Errorf("%d tokens still work at Facebook after disconnect, want 0 (revoked)", n)
	}
	if j, err := job.Get(t.Context(), h.svc.DB, u.ID, *stored.PendingJobID); err != nil || j.Status != job.Failed {
		t.Errorf("pending pull after disconnect = %+v, %v; want failed", j, err)
	}
	wantError(t, h.do(t, u, "DELETE", basePath+"/"+i.ID, nil), http.StatusNotFound, "not_found")
}

// TestDisconnectSurvivesFacebookDown: the token is erased even when the revocation
// cannot reach Facebook.
func TestDisconnectSurvivesFacebookDown(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	fb := h.addFacebookUser(t)
	i := h.connect(t, u, fb.ID)
	h.fake.FailNext("DELETE /me/permissions", 500, 1, 0, "An unknown error occurred")
	h.must(t, u, http.StatusNoContent, "DELETE", basePath+"/"+i.ID, nil)
	if _, err := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID); err == nil {
		t.Error("the integration is still stored after a disconnect whose revocation failed")
	}
}

func TestDataDeletionCallback(t *testing.T) {
	h := newHarness(t)
	u1, u2 := testenv.NewUser(t, h.svc, "uce"), testenv.NewUser(t, h.svc, "e2e")
	keep := testenv.NewUser(t, h.svc, "e2e")
	fb, fbKeep := h.addFacebookUser(t), h.addFacebookUser(t)
	// Two diary users connected the same Facebook account; a third another one.
	h.connect(t, u1, fb.ID)
	h.connect(t, u2, fb.ID)
	kept := h.connect(t, keep, fbKeep.ID)
	entry := h.insertEntry(t, u2, nil, "")
	h.must(t, u2, http.StatusCreated, "POST", basePath+"/facebook/push", map[string]string{"entry_id": entry, "page_id": fb.Pages[0].ID, "message": "hi"})
	for _, uid := range []string{u1.ID, u2.ID} {
		if _, err := h.svc.DB.Exec(t.Context(), `
			INSERT INTO integration_imports (user_id, provider, external_account_id, external_post_id) VALUES ($1, 'facebook', $2, 'p')`,
			uid, fb.ID); err != nil {
			t.Fatal(err)
		}
	}

	post := func(form url.Values) testenv.Response {
		return testenv.Do(t, h.h, "POST", basePath+"/facebook/data-deletion", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	forged := []struct{ name, signed string }{
		{"missing", ""},
		{"signed with another secret", facebook.SignRequest("not-the-secret", facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: fb.ID})},
		{"another algorithm", facebook.SignRequest(testAppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA1", UserID: fb.ID})},
		{"no signature", "." + strings.SplitN(facebook.SignRequest(testAppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: fb.ID}), ".", 2)[1]},
		{"a payload swapped under a valid signature", strings.SplitN(facebook.SignRequest(testAppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: fbKeep.ID}), ".", 2)[0] +
			"." + strings.SplitN(facebook.SignRequest(testAppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: fb.ID}), ".", 2)[1]},
	}
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			wantError(t, post(url.Values{"signed_request": {f.signed}}), http.StatusBadRequest, "invalid_signed_request")
		})
	}
	var n int
	_ = h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM integrations WHERE external_account_id = $1`, fb.ID).Scan(&n)
	if n != 2 {
		t.Fatalf("forged callbacks deleted integrations: %d left, want 2", n)
	}
	wantError(t, testenv.Do(t, h.h, "POST", basePath+"/facebook/data-deletion", "", map[string]string{"signed_request": "x"}),
		http.StatusUnsupportedMediaType, "unsupported_media_type")

	signed := facebook.SignRequest(testAppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: time.Now().Unix(), UserID: fb.ID})
	res := post(url.Values{"signed_request": {signed}})
	if res.Code != http.StatusOK {
		t.Fatalf("data deletion = %d %s, want 200", res.Code, res.Body)
	}
	d := decode[deletionResponse](t, res)
	wantURL := "https://diary.example.test" + basePath + "/facebook/data-deletion/" + d.ConfirmationCode
	if len(d.ConfirmationCode) != 32 || d.URL != wantURL {
		t.Errorf("data deletion = %+v, want a 32-character code and url %s", d, wantURL)
	}
	for table, want := range map[string]int{"integrations": 0, "integration_imports": 0, "integration_pushes": 0} {
		_ = h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM `+table+` WHERE external_account_id = $1`, fb.ID).Scan(&n)
		if n != want {
			t.Errorf("%s rows of the account after the deletion = %d, want %d", table, n, want)
		}
	}
	if _, err := integration.Get(t.Context(), h.svc.DB, keep.ID, kept.ID); err != nil {
		t.Errorf("another account's integration was deleted: %v", err)
	}
	if n := h.fake.LiveTokens(fb.ID); n != 0 {
		t.Errorf("%d of the account's tokens still work at Facebook, want 0", n)
	}

	// The status URL shows the request, to anyone with the code, and nothing else.
	u, _ := url.Parse(d.URL)
	st := decode[deletionStatus](t, testenv.Do(t, h.h, "GET", u.Path, "", nil))
	if st.Status != "completed" || st.ConfirmationCode != d.ConfirmationCode || st.CompletedAt == nil || st.Message == "" {
		t.Errorf("status = %+v, want completed", st)
	}
	if strings.Contains(testenv.Do(t, h.h, "GET", u.Path, "", nil).Body.String(), fb.ID) {
		t.Error("the status page names the Facebook account")
	}
	wantError(t, testenv.Do(t, h.h, "GET", basePath+"/facebook/data-deletion/"+strings.Repeat("0", 32), "", nil), http.StatusNotFound, "not_found")
	var codes int
	_ = h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM integration_deletions WHERE code_hash = sha256($1::bytea)`, []byte(d.ConfirmationCode)).Scan(&codes)
	if codes != 1 {
		t.Errorf("deletion rows under the code's hash = %d, want 1", codes)
	}
}
