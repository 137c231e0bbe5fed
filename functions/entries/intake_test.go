package entries

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// intakeJSON is an entry with the fields intake adds.
type intakeJSON struct {
	entryJSON
	Pending          *bool   `json:"pending"`
	CiphertextFormat *string `json:"ciphertext_format"`
}

// deliver delivers an item as a job would: intake.Deliver in the job's own transaction.
func deliver(t *testing.T, svc *platform.Services, in intake.Incoming) intake.Delivered {
	t.Helper()
	var d intake.Delivered
	err := store.Transact(context.Background(), svc.DB, func(tx pgx.Tx) error {
		var err error
		d, err = intake.Deliver(context.Background(), tx, intake.NewPending(svc.Redis), in)
		return err
	})
	if err != nil {
		t.Fatalf("intake.Deliver() = %v", err)
	}
	return d
}

// TestIntakeUCE: delivered entries of a uce user are listed pending, with no text, until
// requests redeem them, a bounded batch each; then they read like any entry, the history
// and the feed show the change, and entry.changed says so. Another user's pending entry
// stays as it was.
func TestIntakeUCE(t *testing.T) {
	h := newHarnessConfig(t, Config{IntakeRedeemBatch: 2})
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	title := "From Facebook"
	var ids []string
	for _, content := range []string{"first post", "second post", "third post"} {
		d := deliver(t, h.svc, intake.Incoming{UserID: u.ID, Body: intake.Body{Title: &title, Content: content},
			Source: "facebook", Tags: []string{"FB"}})
		ids = append(ids, d.EntryID)
	}
	otherID := deliver(t, h.svc, intake.Incoming{UserID: other.ID, Body: intake.Body{Content: "other's post"}, Source: "facebook"}).EntryID

	// Without a key nothing is redeemed, and the feed of a keyless session is refused as
	// ever; history needs no key and shows the creation.
	keyless := userWithSession(t, h.svc, u, nil)
	hist := decodeJSON[historyView](t, h.mustStatus(t, keyless, http.StatusOK, "GET", entryPath(ids[2])+"/history", nil))
	if len(hist.Items) != 1 || hist.Items[0].EventType != "created" {
		t.Fatalf("history before redemption = %+v, want [created]", hist.Items)
	}

	// The first request redeems the two oldest; the third is listed pending.
	page := decodeJSON[struct{ Items []intakeJSON }](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries", nil))
	byID := map[string]intakeJSON{}
	for _, e := range page.Items {
		byID[e.ID] = e
	}
	for i, id := range ids {
		e, ok := byID[id]
		if !ok {
			t.Fatalf("entry %d missing from the list", i)
		}
		if e.Pending == nil {
			t.Fatalf("entry %d has no pending field", i)
		}
		if i < 2 {
			if *e.Pending || e.Content == nil || *e.Content != []string{"first post", "second post"}[i] || e.Title == nil || *e.Title != title || e.Version != 2 {
				t.Errorf("entry %d after the first request = pending %v, content %v, title %v, version %d; want redeemed at version 2", i, *e.Pending, e.Content, e.Title, e.Version)
			}
		} else if !*e.Pending || e.Content != nil || e.Title != nil || e.Version != 1 {
			t.Errorf("entry 2 after the first request = pending %v, content %v, title %v, version %d; want pending with no text", *e.Pending, e.Content, e.Title, e.Version)
		}
		if e.Source != "facebook" || len(e.Tags) != 1 || e.Tags[0] != "fb" {
			t.Errorf("entry %d: source %q, tags %q", i, e.Source, e.Tags)
		}
	}

	// Redeemed boxes are indexed for search in their redemption's transaction; a box still
	// pending has no tokens (its text is not readable yet).
	for i, id := range ids[:2] {
		if _, tokens, found := indexRow(t, h, id); !found || tokens == "" {
			t.Errorf("redeemed entry %d has no search tokens", i)
		}
	}
	if _, _, found := indexRow(t, h, ids[2]); found {
		t.Errorf("the pending entry has search tokens before its redemption")
	}

	// The next request redeems the third.
	got := decodeJSON[intakeJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(ids[2]), nil))
	if got.Pending == nil || *got.Pending || got.Content == nil || *got.Content != "third post" || got.Version != 2 {
		t.Errorf("GET third entry = %+v, want redeemed", got)
	}
	if _, tokens, found := indexRow(t, h, ids[2]); !found || tokens == "" {
		t.Errorf("the third entry has no search tokens after its redemption")
	}
	hist = decodeJSON[historyView](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(ids[2])+"/history", nil))
	if len(hist.Items) != 2 || hist.Items[0].EventType != "created" || hist.Items[1].EventType != "updated" || hist.Items[1].Version != 2 {
		t.Errorf("history after redemption = %+v, want [created v1, updated v2]", hist.Items)
	}
	feed := decodeJSON[struct{ Items []intakeJSON }](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", nil))
	if len(feed.Items) != 3 || feed.Items[2].ID != ids[2] || feed.Items[2].Content == nil || *feed.Items[2].Content != "third post" {
		t.Errorf("feed = %+v, want the three entries, the last redeemed last", feed.Items)
	}
	// A copy of the pending entry is stale: its ETag no longer matches.
	h.mustStatus(t, u, http.StatusOK, "GET", entryPath(ids[2]), nil, "If-None-Match", quoted(1))

	// Each redemption wrote its entries' entry.changed in its own transaction.
	events := testenv.Outbox(t, h.svc.DB, u.ID)
	if len(events) != 3 {
		t.Fatalf("entry.changed events in the outbox = %+v, want one updated per redeemed entry", events)
	}
	for i, ev := range events {
		var got eventing.EntryChanged
		if err := json.Unmarshal(ev.Data, &got); err != nil || ev.Type != eventing.TypeEntryChanged || ev.Subject != ids[i] ||
			got != (eventing.EntryChanged{UserID: u.ID, EntryID: ids[i], Change: "updated", Version: 2}) {
			t.Errorf("event %d = %+v (%+v, %v)", i, ev, got, err)
		}
	}

	// The other user's pending entry is untouched by all this, and is theirs alone.
	h.mustStatus(t, u, http.StatusNotFound, "GET", entryPath(otherID), nil)
	var box []byte
	var version int
	if err := h.svc.DB.QueryRow(context.Background(), `SELECT intake_box, version FROM entries WHERE id = $1`, otherID).Scan(&box, &version); err != nil || box == nil || version != 1 {
		t.Errorf("other user's entry: box %v, version %d, %v; want still pending", box != nil, version, err)
	}
	// Their own request redeems it.
	oe := decodeJSON[intakeJSON](t, h.mustStatus(t, other, http.StatusOK, "GET", entryPath(otherID), nil))
	if oe.Content == nil || *oe.Content != "other's post" {
		t.Errorf("other user's GET = %+v, want their post", oe)
	}
}

// TestIntakeE2E: an e2e user's delivered entry is complete at once: its ciphertext is the
// box, marked intake/v1, which opens with the user's private key; entries the client
// writes are marked client.
func TestIntakeE2E(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	d := deliver(t, h.svc, intake.Incoming{UserID: u.ID, Body: intake.Body{Content: "a post for the client"}, Source: "import"})
	got := decodeJSON[intakeJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(d.EntryID), nil))
	if got.CiphertextFormat == nil || *got.CiphertextFormat != intake.Format || got.Ciphertext == nil || got.Pending != nil {
		t.Fatalf("GET delivered e2e entry = %+v, want ciphertext with ciphertext_format %q", got, intake.Format)
	}
	box, err := base64.StdEncoding.DecodeString(*got.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	b, err := intake.Open(u.PrivateKey, d.EntryID, box)
	if err != nil || b.Content != "a post for the client" || b.Title != nil {
		t.Errorf("intake.Open(ciphertext, user's private key) = %+v, %v", b, err)
	}
	// The client replaces it with its own envelope: the marker goes.
	put := decodeJSON[intakeJSON](t, h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(d.EntryID), body(t, u, "", nil)))
	if put.CiphertextFormat == nil || *put.CiphertextFormat != "client" {
		t.Errorf("PUT ciphertext_format = %v, want client", put.CiphertextFormat)
	}
	own := h.create(t, u, body(t, u, "", nil))
	list := decodeJSON[struct{ Items []intakeJSON }](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries", nil))
	for _, e := range list.Items {
		if e.CiphertextFormat == nil || *e.CiphertextFormat != "client" {
			t.Errorf("entry %s (own %v): ciphertext_format %v, want client", e.ID, e.ID == own.ID, e.CiphertextFormat)
		}
	}
}

// TestIntakeUpdatePending: a uce user replacing an entry that is still pending (its box
// was never redeemed, e.g. a redemption failing) stores the new body and drops the box.
func TestIntakeUpdatePending(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	d := deliver(t, h.svc, intake.Incoming{UserID: u.ID, Body: intake.Body{Content: "pulled"}, Source: "facebook"})
	// As if the marker were lost: the request does not redeem.
	if err := h.svc.Redis.Del(context.Background(), "intake:pending:"+u.ID).Err(); err != nil {
		t.Fatal(err)
	}
	got := decodeJSON[intakeJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(d.EntryID), nil))
	if got.Pending == nil || !*got.Pending {
		t.Fatalf("GET = %+v, want pending (no marker, no redemption)", got)
	}
	put := decodeJSON[intakeJSON](t, h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(d.EntryID), map[string]any{"content": "rewritten"}))
	if put.Pending == nil || *put.Pending || put.Content == nil || *put.Content != "rewritten" {
		t.Errorf("PUT = %+v, want the new text, not pending", put)
	}
	var box []byte
	if err := h.svc.DB.QueryRow(context.Background(), `SELECT intake_box FROM entries WHERE id = $1`, d.EntryID).Scan(&box); err != nil || box != nil {
		t.Errorf("intake_box after PUT = %v, %v, want NULL", box != nil, err)
	}
	if !strings.Contains(h.mustStatus(t, u, http.StatusOK, "GET", entryPath(d.EntryID), nil).Body.String(), `"rewritten"`) {
		t.Errorf("GET after PUT does not show the new text")
	}
}

// TestIntakeCanary delivers canary text to a uce and an e2e user, has the uce entry
// redeemed and read through every read call, and checks the canary is in no table (a
// pg_dump in raw, hex and base64 form), no Redis value and no log line, before and after
// the redemption.
func TestIntakeCanary(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, "")
	uce := testenv.NewUser(t, h.svc, "uce")
	e2e := testenv.NewUser(t, h.svc, "e2e")
	canary := "intake-canary-" + strings.ToLower(randomB64(t, 6)[:8])
	title := canary + "-title"
	ud := deliver(t, h.svc, intake.Incoming{UserID: uce.ID, Body: intake.Body{Title: &title, Content: canary + " content"}, Source: "facebook"})
	ed := deliver(t, h.svc, intake.Incoming{UserID: e2e.ID, Body: intake.Body{Title: &title, Content: canary + " content"}, Source: "facebook"})

	check := func(when string) {
		t.Helper()
		dump := testenv.DumpDatabase(t)
		if !bytes.Contains(dump, []byte(ud.EntryID)) || !bytes.Contains(dump, []byte(ed.EntryID)) {
			t.Fatalf("the dump does not hold the delivered entries: is it the test database?")
		}
		for _, f := range testenv.Forms(canary) {
			if bytes.Contains(dump, []byte(f)) {
				t.Errorf("%s: the database holds the canary (as %q)", when, f)
			}
			if key := testenv.RedisHolding(t, h.svc.Redis, f); key != "" {
				t.Errorf("%s: Redis key %q holds the canary (as %q)", when, key, f)
			}
			if strings.Contains(logs.String(), f) {
				t.Errorf("%s: the logs hold the canary (as %q)", when, f)
			}
		}
	}
	check("delivered")
	got := decodeJSON[intakeJSON](t, h.mustStatus(t, uce, http.StatusOK, "GET", entryPath(ud.EntryID), nil))
	if got.Content == nil || *got.Content != canary+" content" {
		t.Fatalf("GET redeemed entry = %+v, want the canary back (the test must see it round-trip)", got)
	}
	h.mustStatus(t, uce, http.StatusOK, "GET", "/api/v1/entries", nil)
	h.mustStatus(t, uce, http.StatusOK, "GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", nil)
	h.mustStatus(t, e2e, http.StatusOK, "GET", entryPath(ed.EntryID), nil)
	check("redeemed")
	if !strings.Contains(logs.String(), "intake: redeemed pending entries") {
		t.Errorf("the captured logs miss the redemption line; is the capture working?\n%s", logs)
	}
}
