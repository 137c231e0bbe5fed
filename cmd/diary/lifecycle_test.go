package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/purge"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// lifecycleWorld is the whole API in-process with its events delivered by the local Broker
// to the purge, as scripts/dev runs it: what a password change, a reset and a deletion do
// to a user's entries, media and rows across the functions.
type lifecycleWorld struct {
	t      *testing.T
	h      http.Handler
	svc    *platform.Services
	broker *local.Router
	// ingress says when the relay has handed an event to the Broker.
	ingress *ingress
}

func newLifecycleWorld(t *testing.T) *lifecycleWorld {
	t.Helper()
	env := inProcessEnv(t)
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Brokers {
		m.Brokers[i].Delivery.BackoffDelay = "PT0.01S"
	}
	p, err := host.New(purge.New())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), env); err != nil {
		t.Fatalf("start the purge: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	broker, err := local.NewRouter(m, local.Options{
		Handlers: brokerHandlers(map[string]http.Handler{"purge": p}),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	in := newIngress(broker)
	mux := http.NewServeMux()
	mux.Handle(brokerPath, in)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env["K_SINK"] = srv.URL + brokerPath
	return &lifecycleWorld{t: t, h: startGateway(t, diary.NewInProcess(groupFunctions()), env), svc: testenv.Services(t), broker: broker, ingress: in}
}

func (w *lifecycleWorld) do(method, path, token string, body any, want int) testenv.Response {
	w.t.Helper()
	resp := testenv.Do(w.t, w.h, method, path, token, body)
	if resp.Code != want {
		w.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.Code, resp.Body, want)
	}
	return resp
}

type lifecycleSession struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	AccessToken   string   `json:"access_token"`
	RecoveryCodes []string `json:"recovery_codes"`
}

func (w *lifecycleWorld) login(email, password string) lifecycleSession {
	w.t.Helper()
	var s lifecycleSession
	w.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusOK).JSON(w.t, &s)
	return s
}

// readEntry fetches the entry and fails unless its content is want.
func (w *lifecycleWorld) readEntry(token, id, want string) {
	w.t.Helper()
	var e struct {
		Content string `json:"content"`
	}
	w.do("GET", "/api/v1/entries/"+id, token, nil, http.StatusOK).JSON(w.t, &e)
	if e.Content != want {
		w.t.Errorf("GET /entries/%s content = %q, want %q", id, e.Content, want)
	}
}

// uploadMedia stores data as a ready media of the user and returns its object key.
func (w *lifecycleWorld) uploadMedia(token string, data []byte) string {
	w.t.Helper()
	sum := sha256.Sum256(data)
	var a struct {
		Media struct {
			ID string `json:"id"`
		} `json:"media"`
		Upload struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"upload"`
	}
	w.do("POST", "/api/v1/media/upload", token, map[string]any{"filename": "a.png", "content_type": "image/png",
		"size_bytes": len(data), "sha256": hex.EncodeToString(sum[:])}, http.StatusCreated).JSON(w.t, &a)
	req, err := http.NewRequest(http.MethodPut, a.Upload.URL, bytes.NewReader(data))
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range a.Upload.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("PUT the upload = %d", resp.StatusCode)
	}
	w.do("POST", "/api/v1/media/"+a.Media.ID+"/complete", token, nil, http.StatusOK)
	var key string
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT object_key FROM media WHERE id = $1`, a.Media.ID).Scan(&key); err != nil {
		w.t.Fatal(err)
	}
	return key
}

// TestAccountLifecycleAcrossFunctions walks one uce account through a password change, a
// reset with a recovery code and a deletion, through the gateway, with its entry read by
// the entries function each time and its purge run by the purge through the local Broker.
func TestAccountLifecycleAcrossFunctions(t *testing.T) {
	w := newLifecycleWorld(t)
	ctx := context.Background()
	email, password := "lifecycle-"+uuid.NewString()[:8]+"@example.test", "the first password"
	var s lifecycleSession
	w.do("POST", "/api/v1/auth/signup", "", map[string]string{"email": email, "password": password, "encryption_tier": "uce"},
		http.StatusCreated).JSON(t, &s)
	userID := s.User.ID
	var entry struct {
		ID string `json:"id"`
	}
	w.do("POST", "/api/v1/entries", s.AccessToken, map[string]string{"title": "a day", "content": "dear diary"}, http.StatusCreated).JSON(t, &entry)
	key := w.uploadMedia(s.AccessToken, []byte("a photo's bytes"))
	other := w.login(email, password)

	// Change the password: the old one and the other session stop, the entry stays readable.
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	w.do("POST", "/api/v1/auth/change-password", s.AccessToken,
		map[string]string{"current_password": password, "new_password": "the second password"}, http.StatusOK).JSON(t, &pair)
	w.do("GET", "/api/v1/entries/"+entry.ID, other.AccessToken, nil, http.StatusUnauthorized)
	w.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusUnauthorized)
	w.readEntry(pair.AccessToken, entry.ID, "dear diary")
	w.readEntry(w.login(email, "the second password").AccessToken, entry.ID, "dear diary")

	// Forget it: a recovery code sets a third one, and the entry is still readable.
	var reset lifecycleSession
	w.do("POST", "/api/v1/auth/reset-password", "", map[string]string{"email": email, "recovery_code": s.RecoveryCodes[0],
		"new_password": "the third password"}, http.StatusOK).JSON(t, &reset)
	w.do("GET", "/api/v1/entries/"+entry.ID, pair.AccessToken, nil, http.StatusUnauthorized)
	w.readEntry(reset.AccessToken, entry.ID, "dear diary")
	w.do("POST", "/api/v1/auth/reset-password", "", map[string]string{"email": email, "recovery_code": s.RecoveryCodes[0],
		"new_password": "the fourth password"}, http.StatusUnauthorized)

	// Delete: login fails at once; once the purge has run nothing of the user is left.
	var deleted struct {
		JobID string `json:"job_id"`
	}
	w.do("DELETE", "/api/v1/auth/me", reset.AccessToken, map[string]string{"password": "the third password"}, http.StatusAccepted).JSON(t, &deleted)
	w.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "the third password"}, http.StatusUnauthorized)
	w.do("GET", "/api/v1/jobs/"+deleted.JobID, reset.AccessToken, nil, http.StatusUnauthorized)
	w.ingress.waitFor(t, eventing.TypeAccountDeleted, userID)
	drainCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.broker.Drain(drainCtx); err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{userID, deleted.JobID, entry.ID} {
		if found := testenv.RowsMentioning(t, w.svc.DB, needle); len(found) != 0 {
			t.Errorf("after the purge %s is still in %v", needle, found)
		}
	}
	var cfg objstore.Config
	if err := config.Load(testenv.Env(t), &cfg); err != nil {
		t.Fatal(err)
	}
	objects, err := objstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := objects.Head(ctx, key); err != nil || ok {
		t.Errorf("Head(the media object) after the purge = %v, %v, want gone", ok, err)
	}
	// Another user asking for the job gets the 404 of any id not theirs.
	stranger := testenv.NewUser(t, w.svc, "e2e")
	w.do("GET", "/api/v1/jobs/"+deleted.JobID, stranger.AccessToken, nil, http.StatusNotFound)
}
