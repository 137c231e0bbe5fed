package integrations

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

	var n int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM integrations WHERE external_account_id = $1`, fbE.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the integration is not in the database (%d, %v): is it the test database?", n, err)
	}
	secrets := map[string]string{"the canary": canary, "the app secret": testAppSecret}
	for i, tok := range h.fake.Tokens() {
		secrets[fmt.Sprintf("token %d", i)] = tok
	}
	h.delivered(t, uce.ID, e2e.ID) // the events the calls wrote have reached the sink
	testenv.WantNowhere(t, h.svc.Redis, secrets, map[string]string{"the logs": h.logs.String(), "the events": h.sink.Text()})
	if !strings.Contains(h.logs.String(), `"route":"POST /api/v1/integrations/facebook/push"`) {
		t.Errorf("the captured logs miss the access log lines; is the capture working?")
	}
}
