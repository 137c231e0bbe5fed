package integrations

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestNoCanaryOrTokenStoredOrLogged pushes canary text (an e2e message, and a uce entry
// the server decrypts), connects, pulls, fails Graph calls and disconnects, then checks
// that neither the canary nor any Facebook token (user or Page) nor the app secret is in
// the database (a pg_dump, raw, hex and base64), in Redis, in an event or in a log line.
func TestNoCanaryOrTokenStoredOrLogged(t *testing.T) {
	h := newHarness(t)
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	canary := "canary-" + hex.EncodeToString(nonce)

	uce, e2e := testenv.NewUser(t, h.svc, "uce"), testenv.NewUser(t, h.svc, "e2e")
	fbU, fbE := h.addFacebookUser(t), h.addFacebookUser(t)
	iU := h.connect(t, uce, fbU.ID)
	h.connect(t, e2e, fbE.ID)
	title := canary + "-title"
	entry := h.insertEntry(t, uce, &title, canary+" content")
	h.must(t, uce, http.StatusCreated, "POST", basePath+"/facebook/push", map[string]string{"entry_id": entry, "page_id": fbU.Pages[0].ID})
	e2eEntry := h.insertEntry(t, e2e, nil, "")
	h.must(t, e2e, http.StatusCreated, "POST", basePath+"/facebook/push", map[string]string{"entry_id": e2eEntry, "page_id": fbE.Pages[0].ID, "message": canary + " message"})
	h.fake.FailNext("POST /"+fbE.Pages[0].ID+"/feed", 400, 100, 0, "(#100) Invalid parameter")
	h.do(t, e2e, "POST", basePath+"/facebook/push", map[string]string{"entry_id": h.insertEntry(t, e2e, nil, ""), "page_id": fbE.Pages[0].ID, "message": canary + " refused"})
	h.must(t, e2e, http.StatusOK, "GET", basePath+"/facebook/pages", nil)
	h.must(t, e2e, http.StatusAccepted, "POST", basePath+"/facebook/pull", nil)
	h.must(t, uce, http.StatusNoContent, "DELETE", basePath+"/"+iU.ID, nil)
	if got := h.fake.Published(fbU.ID, fbU.Pages[0].ID); len(got) != 1 || !strings.Contains(got[0], canary) {
		t.Fatalf("published %q: the test must see its canary reach Facebook", got)
	}

	dump := testenv.DumpDatabase(t)
	if !bytes.Contains(dump, []byte(fbE.ID)) {
		t.Fatal("the dump does not hold the integration: is it the test database?")
	}
	var events strings.Builder
	for _, ev := range h.sink.all() {
		events.WriteString(ev.Type + ev.Source + ev.Subject + string(ev.Data))
	}
	secrets := map[string]string{"the canary": canary, "the app secret": testAppSecret}
	for i, tok := range h.fake.Tokens() {
		secrets["token "+string(rune('a'+i%26))+tok[len(tok)-24:]] = tok
	}
	for what, s := range secrets {
		for _, f := range testenv.Forms(s) {
			if bytes.Contains(dump, []byte(f)) {
				t.Errorf("the database holds %s (as %q)", what, f)
			}
			if key := testenv.RedisHolding(t, h.svc.Redis, f); key != "" {
				t.Errorf("Redis key %q holds %s", key, what)
			}
			if strings.Contains(h.logs.String(), f) {
				t.Errorf("the logs hold %s (as %q)", what, f)
			}
			if strings.Contains(events.String(), f) {
				t.Errorf("an event holds %s", what)
			}
		}
	}
	if !strings.Contains(h.logs.String(), `"route":"POST /api/v1/integrations/facebook/push"`) {
		t.Errorf("the captured logs miss the access log lines; is the capture working?")
	}
}
