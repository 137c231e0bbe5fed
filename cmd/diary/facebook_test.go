package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/fbsync"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/facebook/facebooktest"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/testenv"
)

// facebookEnv is inProcessEnv with the integrations group pointed at a Facebook fake (and
// its redirect URI, fbRedirectURI), so every integration call can be made.
func facebookEnv(t *testing.T) (map[string]string, *facebooktest.Fake) {
	t.Helper()
	fake := facebooktest.New(t, "777000", "gateway-test-secret")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	env := inProcessEnv(t)
	for k, v := range map[string]string{
		"FACEBOOK_APP_ID": fake.AppID, "FACEBOOK_APP_SECRET": fake.AppSecret, "FACEBOOK_REDIRECT_URI": fbRedirectURI,
		"FACEBOOK_GRAPH_URL": fake.URL, "FACEBOOK_DIALOG_URL": fake.URL, "INTEGRATION_TOKEN_KEY": base64.StdEncoding.EncodeToString(key),
		"PUBLIC_URL": "https://diary.example.test",
	} {
		env[k] = v
	}
	return env, fake
}

// fbRedirectURI is the app's redirect URI in facebookEnv.
const fbRedirectURI = "https://app.example.test/cb"

// TestFacebookThroughTheGateway runs the whole story through the in-process API
// and the sync consumer, against the Facebook fake: connect, callback, Pages, push (uce
// and e2e), pull, the entries appearing once (uce readable after the next request, the e2e
// box opening with the private key), a second pull importing nothing, the hourly tick, an
// expired token (needs_reauth), disconnect (token gone from the database), and Facebook's
// data deletion callback with a forged and a valid signed_request. Another user's
// integration is a 404.
func TestFacebookThroughTheGateway(t *testing.T) {
	ctx := context.Background()
	env, fake := facebookEnv(t)
	h := startGateway(t, diary.NewInProcess(groupFunctions()), env)
	svc := testenv.Services(t)
	var cfg fbsync.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatal(err)
	}
	sync, err := fbsync.NewWithServices(cfg, svc.DB, svc.Redis, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	hourly, ok := m.PingSource("facebook-sync")
	if !ok {
		t.Fatal("no PingSource facebook-sync")
	}

	do := func(u testenv.User, status int, method, path string, body any) testenv.Response {
		t.Helper()
		res := testenv.Do(t, h, method, path, u.AccessToken, body)
		if res.Code != status {
			t.Fatalf("%s %s = %d %s, want %d", method, path, res.Code, res.Body, status)
		}
		return res
	}
	pull := func(u testenv.User, integrationID string) {
		t.Helper()
		var p struct {
			JobID string `json:"job_id"`
		}
		do(u, http.StatusAccepted, "POST", "/api/v1/integrations/facebook/pull", nil).JSON(t, &p)
		ev := event.New()
		ev.SetID(uuid.NewString())
		ev.SetType(eventing.TypeIntegrationPullRequested)
		ev.SetSource(eventing.SourceIntegrations)
		_ = ev.SetData("application/json", eventing.IntegrationPullRequested{UserID: u.ID, IntegrationID: integrationID, JobID: p.JobID})
		if _, err := sync.Handle(ctx, ev); err != nil {
			t.Fatalf("fbsync Handle(pull) = %v", err)
		}
		var j struct{ Status string }
		do(u, http.StatusOK, "GET", "/api/v1/jobs/"+p.JobID, nil).JSON(t, &j)
		if j.Status != "succeeded" {
			t.Fatalf("pull job = %s, want succeeded", j.Status)
		}
	}
	type entry struct {
		ID         string  `json:"id"`
		Source     string  `json:"source"`
		Content    *string `json:"content"`
		Ciphertext *string `json:"ciphertext"`
		Pending    bool    `json:"pending"`
	}
	list := func(u testenv.User) []entry {
		t.Helper()
		var page struct{ Items []entry }
		do(u, http.StatusOK, "GET", "/api/v1/entries?source=facebook", nil).JSON(t, &page)
		return page.Items
	}

	base := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	type person struct {
		user  testenv.User
		fb    string
		page  string
		integ string
	}
	var people []*person
	for _, tier := range []string{"uce", "e2e"} {
		u := testenv.NewUser(t, svc, tier)
		fbID := "fb" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
		fake.AddUser(&facebooktest.User{ID: fbID, Name: "Cleo", Pages: []facebooktest.Page{{ID: "pg" + fbID, Name: "Cleo's Page"}},
			Posts: []facebook.Post{
				{ID: "a", Message: "old " + tier, CreatedTime: facebook.Time{Time: base}},
				{ID: "b", Message: "newer " + tier, CreatedTime: facebook.Time{Time: base.Add(time.Hour)}},
			}})
		var c struct{ State string }
		do(u, http.StatusOK, "POST", "/api/v1/integrations/facebook/connect", nil).JSON(t, &c)
		var integ struct{ ID, Status string }
		do(u, http.StatusCreated, "POST", "/api/v1/integrations/facebook/callback",
			map[string]string{"code": fake.Authorize(fbID, fbRedirectURI), "state": c.State}).JSON(t, &integ)
		var pages struct{ Items []struct{ ID string } }
		do(u, http.StatusOK, "GET", "/api/v1/integrations/facebook/pages", nil).JSON(t, &pages)
		if len(pages.Items) != 1 {
			t.Fatalf("pages = %+v, want one", pages.Items)
		}
		people = append(people, &person{user: u, fb: fbID, page: pages.Items[0].ID, integ: integ.ID})
	}
	uce, e2e := people[0], people[1]

	// Push: uce from an entry written through the entries API, e2e with its own message.
	var written struct{ ID string }
	do(uce.user, http.StatusCreated, "POST", "/api/v1/entries", map[string]string{"title": "Sunday", "content": "a long walk"}).JSON(t, &written)
	do(uce.user, http.StatusCreated, "POST", "/api/v1/integrations/facebook/push", map[string]string{"entry_id": written.ID, "page_id": uce.page})
	do(uce.user, http.StatusConflict, "POST", "/api/v1/integrations/facebook/push", map[string]string{"entry_id": written.ID, "page_id": uce.page})
	if got := fake.Published(uce.fb, uce.page); len(got) != 1 || got[0] != "Sunday\n\na long walk" {
		t.Errorf("published for uce = %q", got)
	}
	var e2eWritten struct{ ID string }
	do(e2e.user, http.StatusCreated, "POST", "/api/v1/entries", map[string]string{"ciphertext": base64.StdEncoding.EncodeToString([]byte("client-sealed"))}).JSON(t, &e2eWritten)
	do(e2e.user, http.StatusUnprocessableEntity, "POST", "/api/v1/integrations/facebook/push", map[string]string{"entry_id": e2eWritten.ID, "page_id": e2e.page})
	do(e2e.user, http.StatusCreated, "POST", "/api/v1/integrations/facebook/push", map[string]string{"entry_id": e2eWritten.ID, "page_id": e2e.page, "message": "shared"})

	// Pull: the posts become entries, once.
	for _, p := range people {
		pull(p.user, p.integ)
		pull(p.user, p.integ)
	}
	// uce: the listing request redeems the pending boxes, so the content is there.
	got := list(uce.user)
	if len(got) != 2 || got[0].Content == nil || *got[0].Content != "newer uce" || got[0].Pending {
		t.Errorf("uce facebook entries = %+v, want the 2 posts readable", got)
	}
	got = list(e2e.user)
	if len(got) != 2 || got[0].Ciphertext == nil {
		t.Fatalf("e2e facebook entries = %+v, want 2 with ciphertext", got)
	}
	box, _ := base64.StdEncoding.DecodeString(*got[0].Ciphertext)
	if body, err := intake.Open(e2e.user.PrivateKey, got[0].ID, box); err != nil || body.Content != "newer e2e" {
		t.Errorf("the e2e box opens to %+v, %v; want the newer post", body, err)
	}

	// The hourly tick brings a new post; an expired token then means needs_reauth.
	fake.AddPosts(e2e.fb, facebook.Post{ID: "c", Message: "newest", CreatedTime: facebook.Time{Time: base.Add(2 * time.Hour)}})
	ev, err := local.PingEvent(hourly, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sync.Handle(ctx, ev); err != nil {
		t.Fatalf("fbsync Handle(tick) = %v", err)
	}
	if n := len(list(e2e.user)); n != 3 {
		t.Errorf("%d e2e facebook entries after the tick, want 3", n)
	}
	fake.ExpireTokens(uce.fb)
	if _, err := sync.Handle(ctx, ev); err != nil {
		t.Fatalf("fbsync Handle(tick) = %v", err)
	}
	var integs struct{ Items []struct{ ID, Status string } }
	do(uce.user, http.StatusOK, "GET", "/api/v1/integrations", nil).JSON(t, &integs)
	if len(integs.Items) != 1 || integs.Items[0].Status != "needs_reauth" {
		t.Errorf("uce integrations = %+v, want needs_reauth", integs.Items)
	}

	// Another user's integration is a 404; the owner's disconnect erases the token.
	do(e2e.user, http.StatusNotFound, "DELETE", "/api/v1/integrations/"+uce.integ, nil)
	do(uce.user, http.StatusNoContent, "DELETE", "/api/v1/integrations/"+uce.integ, nil)
	var n int
	if err := svc.DB.QueryRow(ctx, `SELECT count(*) FROM integrations WHERE id = $1`, uce.integ).Scan(&n); err != nil || n != 0 {
		t.Errorf("integration rows after disconnect = %d, %v; want 0", n, err)
	}

	// Facebook's data deletion callback: forged, then valid.
	form := func(signed string) testenv.Response {
		return testenv.Do(t, h, "POST", "/api/v1/integrations/facebook/data-deletion", "",
			url.Values{"signed_request": {signed}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	}
	if res := form(facebook.SignRequest("forged", facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: e2e.fb})); res.Code != http.StatusBadRequest {
		t.Errorf("forged data deletion = %d %s, want 400", res.Code, res.Body)
	}
	res := form(facebook.SignRequest(fake.AppSecret, facebook.SignedRequest{Algorithm: "HMAC-SHA256", UserID: e2e.fb}))
	var d struct{ URL, ConfirmationCode string }
	if res.Code != http.StatusOK {
		t.Fatalf("data deletion = %d %s, want 200", res.Code, res.Body)
	}
	res.JSON(t, &d)
	status, _ := url.Parse(d.URL)
	if status.Host != "diary.example.test" || testenv.Do(t, h, "GET", status.Path, "", nil).Code != http.StatusOK {
		t.Errorf("status url %s does not answer through the gateway", d.URL)
	}
	do(e2e.user, http.StatusOK, "GET", "/api/v1/integrations", nil).JSON(t, &integs)
	if len(integs.Items) != 0 {
		t.Errorf("e2e integrations after the data deletion = %+v, want none", integs.Items)
	}
}
