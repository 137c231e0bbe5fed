package entries

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/httpapi"
)

// TestRenderedJSON pins the JSON of an entry and of a page of each tier, byte for byte:
// the fields, their order, null versus absent, UTC times, HTML characters unescaped. The
// expected text is what the handlers wrote when rendering still returned any.
func TestRenderedJSON(t *testing.T) {
	key, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	const userID = "0193c0de-0000-7000-8000-000000000001"
	paris := time.FixedZone("CET", 3600)
	occurred := time.Date(2026, 3, 1, 11, 0, 0, 123456000, paris)
	created := time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC)
	updated := time.Date(2026, 3, 2, 10, 0, 2, 0, time.UTC)
	deleted := time.Date(2026, 3, 3, 10, 0, 3, 0, paris)
	mood, title := "calm", "Dear <diary> & me"

	uceRow := func(id string, title *string, content string, version int) entryRow {
		t.Helper()
		body, err := entrybody.Seal(key, userID, id, version, title, content)
		if err != nil {
			t.Fatal(err)
		}
		return entryRow{ID: id, TitleCT: body.Title, ContentCT: body.Content, BodyVersion: version, Source: "app",
			OccurredAt: occurred, CreatedAt: created, UpdatedAt: updated, Version: version}
	}
	titled := uceRow("0193c0de-0000-7000-8000-00000000000a", &title, "line\n\"quoted\" \u2028 é", 3)
	titled.Mood, titled.Tags = &mood, []string{"a", "b"}
	untitled := uceRow("0193c0de-0000-7000-8000-00000000000b", nil, "", 1)
	untitled.DeletedAt = &deleted
	sealed := entryRow{ID: "0193c0de-0000-7000-8000-00000000000c", Ciphertext: []byte{1, 2, 3, 250}, Source: "facebook",
		OccurredAt: occurred, CreatedAt: created, UpdatedAt: updated, Version: 2}
	format := "intake/v1"
	intakeBox := sealed
	intakeBox.CiphertextFormat = &format
	pending := entryRow{ID: "0193c0de-0000-7000-8000-00000000000d", Pending: true, BodyVersion: 1, Source: "facebook",
		OccurredAt: occurred, CreatedAt: created, UpdatedAt: updated, Version: 1}

	const (
		titledJSON   = `{"id":"0193c0de-0000-7000-8000-00000000000a","title":"Dear <diary> & me","content":"line\n\"quoted\" \u2028 é","pending":false,"mood":"calm","tags":["a","b"],"source":"app","occurred_at":"2026-03-01T10:00:00.123456Z","created_at":"2026-03-01T10:00:01Z","updated_at":"2026-03-02T10:00:02Z","deleted_at":null,"version":3}`
		untitledJSON = `{"id":"0193c0de-0000-7000-8000-00000000000b","title":null,"content":"","pending":false,"mood":null,"tags":[],"source":"app","occurred_at":"2026-03-01T10:00:00.123456Z","created_at":"2026-03-01T10:00:01Z","updated_at":"2026-03-02T10:00:02Z","deleted_at":"2026-03-03T09:00:03Z","version":1}`
		pendingJSON  = `{"id":"0193c0de-0000-7000-8000-00000000000d","title":null,"content":null,"pending":true,"mood":null,"tags":[],"source":"facebook","occurred_at":"2026-03-01T10:00:00.123456Z","created_at":"2026-03-01T10:00:01Z","updated_at":"2026-03-02T10:00:02Z","deleted_at":null,"version":1}`
		intakeJSON   = `{"id":"0193c0de-0000-7000-8000-00000000000c","ciphertext":"AQID+g==","ciphertext_format":"intake/v1","mood":null,"tags":[],"source":"facebook","occurred_at":"2026-03-01T10:00:00.123456Z","created_at":"2026-03-01T10:00:01Z","updated_at":"2026-03-02T10:00:02Z","deleted_at":null,"version":2}`
		sealedJSON   = `{"id":"0193c0de-0000-7000-8000-00000000000c","ciphertext":"AQID+g==","ciphertext_format":"client","mood":null,"tags":[],"source":"facebook","occurred_at":"2026-03-01T10:00:00.123456Z","created_at":"2026-03-01T10:00:01Z","updated_at":"2026-03-02T10:00:02Z","deleted_at":null,"version":2}`
	)
	uce := caller{userID: userID, tier: tierUCE, key: key}
	e2e := caller{userID: userID, tier: tierE2E}

	entries := []struct {
		name   string
		caller caller
		row    entryRow
		want   string
	}{
		{"uce", uce, titled, titledJSON},
		{"uce without title, deleted", uce, untitled, untitledJSON},
		{"e2e", e2e, sealed, sealedJSON},
		{"uce pending", uce, pending, pendingJSON},
		{"e2e intake box", e2e, intakeBox, intakeJSON},
	}
	for _, tt := range entries {
		t.Run(tt.name, func(t *testing.T) {
			view, err := tt.caller.render(tt.row, nil)
			if err != nil {
				t.Fatalf("render() = %v", err)
			}
			rec := httptest.NewRecorder()
			httpapi.WriteJSON(rec, http.StatusOK, view)
			if got := rec.Body.String(); got != tt.want+"\n" {
				t.Errorf("rendered entry =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	next, sync := "n1", "s1"
	pages := []struct {
		name    string
		caller  caller
		rows    []entryRow
		cursors pageCursors
		want    string
	}{
		{"uce page", uce, []entryRow{titled, untitled}, pageCursors{NextCursor: &next},
			`{"items":[` + titledJSON + "\n," + untitledJSON + "\n" + `],"next_cursor":"n1"}`},
		{"e2e feed page", e2e, []entryRow{sealed}, pageCursors{SyncCursor: &sync},
			`{"items":[` + sealedJSON + "\n" + `],"next_cursor":null,"sync_cursor":"s1"}`},
		{"empty page", e2e, nil, pageCursors{}, `{"items":[],"next_cursor":null}`},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			page := pageView{pageCursors: tt.cursors}
			var err error
			if page.Items, err = tt.caller.renderAll(tt.rows); err != nil {
				t.Fatal(err)
			}
			writePage(rec, page)
			if got := rec.Body.String(); got != tt.want+"\n" {
				t.Errorf("page =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
