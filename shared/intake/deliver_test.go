package intake

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// deliver runs Deliver in its own committed transaction.
func deliver(t *testing.T, svc *platform.Services, in Incoming) (Delivered, error) {
	t.Helper()
	var d Delivered
	err := store.Transact(context.Background(), svc.DB, func(tx pgx.Tx) error {
		var err error
		d, err = Deliver(context.Background(), tx, NewPending(svc.Redis), in)
		return err
	})
	return d, err
}

// storedEntry is the row Deliver and Redeem write.
type storedEntry struct {
	titleCT, contentCT, ciphertext, intakeBox []byte
	format                                    *string
	bodyVersion, version, contentBytes        int
	source                                    string
	mood                                      *string
	tags                                      []string
	occurredAt                                time.Time
	changeSeq                                 int64
}

func readEntry(t *testing.T, svc *platform.Services, userID, id string) storedEntry {
	t.Helper()
	var e storedEntry
	err := svc.DB.QueryRow(context.Background(), `
		SELECT title_ct, content_ct, ciphertext, intake_box, ciphertext_format, body_version, version,
			content_bytes, source, mood, tags, occurred_at, change_seq
		FROM entries WHERE id = $1 AND user_id = $2`, id, userID).Scan(
		&e.titleCT, &e.contentCT, &e.ciphertext, &e.intakeBox, &e.format, &e.bodyVersion, &e.version,
		&e.contentBytes, &e.source, &e.mood, &e.tags, &e.occurredAt, &e.changeSeq)
	if err != nil {
		t.Fatalf("read entry %s: %v", id, err)
	}
	return e
}

func history(t *testing.T, svc *platform.Services, id string) []string {
	t.Helper()
	rows, err := svc.DB.Query(context.Background(), `SELECT event_type || ' v' || version FROM entry_events WHERE entry_id = $1 ORDER BY version`, id)
	if err != nil {
		t.Fatal(err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func TestDeliverE2E(t *testing.T) {
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "e2e")
	occurred := time.Date(2024, 5, 1, 8, 30, 0, 123456789, time.UTC)
	d, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Title: ptr("Lake"), Content: "we swam"},
		Source: "facebook", OccurredAt: occurred, Mood: ptr("  happy "), Tags: []string{"Summer", " lake", "summer"}})
	if err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	if d.UserID != u.ID || d.Change != "created" || d.Version != 1 || d.Pending {
		t.Errorf("Deliver() = %+v, want user %s, created, version 1, not pending", d, u.ID)
	}
	if _, err := uuid.Parse(d.EntryID); err != nil {
		t.Errorf("Deliver().EntryID = %q: %v", d.EntryID, err)
	}
	e := readEntry(t, svc, u.ID, d.EntryID)
	if e.ciphertext == nil || e.intakeBox != nil || e.titleCT != nil || e.contentCT != nil {
		t.Fatalf("e2e row bodies: ciphertext %d bytes, intake_box %v, title_ct %v, content_ct %v; want only ciphertext", len(e.ciphertext), e.intakeBox, e.titleCT, e.contentCT)
	}
	if e.format == nil || *e.format != Format {
		t.Errorf("ciphertext_format = %v, want %q", e.format, Format)
	}
	got, err := Open(u.PrivateKey, d.EntryID, e.ciphertext)
	if err != nil || got.Content != "we swam" || got.Title == nil || *got.Title != "Lake" {
		t.Errorf("Open(stored ciphertext, the user's private key) = %+v, %v", got, err)
	}
	if e.contentBytes != len(e.ciphertext) || e.bodyVersion != 1 || e.version != 1 || e.source != "facebook" {
		t.Errorf("row = content_bytes %d (box %d), body_version %d, version %d, source %q", e.contentBytes, len(e.ciphertext), e.bodyVersion, e.version, e.source)
	}
	if e.mood == nil || *e.mood != "happy" || strings.Join(e.tags, ",") != "lake,summer" {
		t.Errorf("mood, tags = %v, %q, want happy, [lake summer]", e.mood, e.tags)
	}
	if !e.occurredAt.Equal(occurred.Truncate(time.Microsecond)) {
		t.Errorf("occurred_at = %v, want %v", e.occurredAt, occurred.Truncate(time.Microsecond))
	}
	if h := history(t, svc, d.EntryID); strings.Join(h, ",") != "created v1" {
		t.Errorf("entry_events = %q, want [created v1]", h)
	}
	if has, err := NewPending(svc.Redis).Has(context.Background(), u.ID); err != nil || has {
		t.Errorf("Pending.Has(e2e user) = %v, %v, want false: nothing to redeem", has, err)
	}
}

func TestDeliverUCEIsPending(t *testing.T) {
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "uce")
	id := uuid.Must(uuid.NewV7()).String()
	d, err := deliver(t, svc, Incoming{UserID: u.ID, EntryID: id, Body: Body{Content: "pulled post"}, Source: "import"})
	if err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	if d.EntryID != id || !d.Pending || d.Version != 1 {
		t.Errorf("Deliver() = %+v, want entry %s, pending, version 1", d, id)
	}
	e := readEntry(t, svc, u.ID, id)
	if e.intakeBox == nil || e.ciphertext != nil || e.contentCT != nil || e.titleCT != nil || e.format != nil {
		t.Fatalf("uce row: want only intake_box, got ciphertext %v, content_ct %v, title_ct %v, format %v", e.ciphertext, e.contentCT, e.titleCT, e.format)
	}
	if got, err := Open(u.PrivateKey, id, e.intakeBox); err != nil || got.Content != "pulled post" {
		t.Errorf("Open(intake_box) = %+v, %v", got, err)
	}
	if e.contentBytes != len(e.intakeBox) {
		t.Errorf("content_bytes = %d, want the box's %d", e.contentBytes, len(e.intakeBox))
	}
	if has, err := NewPending(svc.Redis).Has(context.Background(), u.ID); err != nil || !has {
		t.Errorf("Pending.Has() = %v, %v, want true after a uce delivery", has, err)
	}
	// The occurred_at of an item without one is the delivery's time.
	var occurred, created time.Time
	if err := svc.DB.QueryRow(context.Background(), `SELECT occurred_at, created_at FROM entries WHERE id = $1`, id).Scan(&occurred, &created); err != nil || !occurred.Equal(created) {
		t.Errorf("occurred_at = %v, created_at = %v, %v: want equal", occurred, created, err)
	}
}

func TestDeliverRefuses(t *testing.T) {
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "e2e")
	long := strings.Repeat("x", entryfields.MaxContentBytes)
	taken, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Content: "first"}, Source: "facebook"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		in   Incoming
		want error
	}{
		{"content over the limit", Incoming{UserID: u.ID, Body: Body{Content: long + "x"}, Source: "import"}, ErrInvalid},
		{"title over the limit", Incoming{UserID: u.ID, Body: Body{Title: ptr(strings.Repeat("é", entryfields.MaxTitleChars+1)), Content: "x"}, Source: "import"}, ErrInvalid},
		{"content not UTF-8", Incoming{UserID: u.ID, Body: Body{Content: "a\xffb"}, Source: "import"}, ErrInvalid},
		{"source app", Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "app"}, ErrInvalid},
		{"unknown source", Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "myspace"}, ErrInvalid},
		{"too many tags", Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "import", Tags: strings.Split(strings.Repeat("t,", 33), ",")}, ErrInvalid},
		{"bad mood", Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "import", Mood: ptr("a\x07")}, ErrInvalid},
		{"entry id not canonical", Incoming{UserID: u.ID, EntryID: strings.ToUpper(uuid.NewString()), Body: Body{Content: "x"}, Source: "import"}, ErrInvalid},
		// Within the content limit, but JSON escapes each control character as \u00XX:
		// the box would pass what an entry may store.
		{"box too large", Incoming{UserID: u.ID, Body: Body{Content: strings.Repeat("\x01", entryfields.MaxContentBytes)}, Source: "import"}, ErrTooLarge},
		{"unknown user", Incoming{UserID: uuid.NewString(), Body: Body{Content: "x"}, Source: "import"}, ErrUserNotFound},
		{"entry id taken", Incoming{UserID: u.ID, EntryID: taken.EntryID, Body: Body{Content: "x"}, Source: "import"}, ErrEntryExists},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := deliver(t, svc, tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Deliver() = %+v, %v, want %v", d, err, tt.want)
			}
			if strings.Contains(err.Error(), "xxxx") || strings.Contains(err.Error(), "\x01") {
				t.Errorf("Deliver() error %q holds content", err)
			}
		})
	}
	var n int
	if err := svc.DB.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE user_id = $1`, u.ID).Scan(&n); err != nil || n != 1 {
		t.Errorf("entries of the user = %d, %v, want 1: a refused item writes nothing", n, err)
	}
	// The largest content that fits: delivered.
	if _, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Content: long}, Source: "import"}); err != nil {
		t.Errorf("Deliver(content of exactly %d bytes) = %v, want nil", entryfields.MaxContentBytes, err)
	}
}

func TestRedeem(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	pending := NewPending(svc.Redis)
	u := testenv.NewUser(t, svc, "uce")
	other := testenv.NewUser(t, svc, "uce")
	var ids []string
	for i, content := range []string{"one", "two", "three"} {
		var title *string
		if i == 0 {
			title = ptr("first")
		}
		d, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Title: title, Content: content}, Source: "facebook"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.EntryID)
	}
	od, err := deliver(t, svc, Incoming{UserID: other.ID, Body: Body{Content: "other's"}, Source: "facebook"})
	if err != nil {
		t.Fatal(err)
	}
	seqBefore := readEntry(t, svc, u.ID, ids[0]).changeSeq

	var opened []string
	onOpen := func(ctx context.Context, tx pgx.Tx, entryID string, b Body) error {
		opened = append(opened, entryID+"="+b.Content)
		return nil
	}
	red, err := Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 2, onOpen)
	if err != nil {
		t.Fatalf("Redeem(limit 2) = %v", err)
	}
	if len(red.Entries) != 2 || !red.More || red.Entries[0].EntryID != ids[0] || red.Entries[1].EntryID != ids[1] {
		t.Fatalf("Redeem(limit 2) = %+v, want the two oldest and more", red)
	}
	if d := red.Entries[0]; d.Change != "updated" || d.Version != 2 || d.UserID != u.ID {
		t.Errorf("Redeem().Entries[0] = %+v, want updated, version 2", d)
	}
	if strings.Join(opened, ",") != ids[0]+"=one,"+ids[1]+"=two" {
		t.Errorf("onOpen calls = %q", opened)
	}
	if has, _ := pending.Has(ctx, u.ID); !has {
		t.Errorf("Pending.Has() = false with a box left")
	}
	e := readEntry(t, svc, u.ID, ids[0])
	if e.intakeBox != nil || e.ciphertext != nil || e.contentCT == nil || e.titleCT == nil {
		t.Fatalf("redeemed row: intake_box %v, ciphertext %v, content_ct %v, title_ct %v", e.intakeBox, e.ciphertext, e.contentCT, e.titleCT)
	}
	title, content, err := entrybody.Open(u.MasterKey, u.ID, ids[0], e.bodyVersion, entrybody.Sealed{Title: e.titleCT, Content: e.contentCT})
	if err != nil || content != "one" || title == nil || *title != "first" {
		t.Errorf("entrybody.Open(redeemed row) = %v, %q, %v", title, content, err)
	}
	if e.version != 2 || e.bodyVersion != 1 || e.contentBytes != len(e.titleCT)+len(e.contentCT) || e.changeSeq <= seqBefore {
		t.Errorf("redeemed row: version %d, body_version %d, content_bytes %d, change_seq %d (was %d)", e.version, e.bodyVersion, e.contentBytes, e.changeSeq, seqBefore)
	}
	if h := history(t, svc, ids[0]); strings.Join(h, ",") != "created v1,updated v2" {
		t.Errorf("entry_events = %q, want [created v1 updated v2]", h)
	}
	if readEntry(t, svc, u.ID, ids[2]).intakeBox == nil {
		t.Errorf("the third box was redeemed beyond the batch")
	}

	red, err = Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 2, nil)
	if err != nil || len(red.Entries) != 1 || red.More || red.Entries[0].EntryID != ids[2] {
		t.Fatalf("second Redeem() = %+v, %v, want the third entry and no more", red, err)
	}
	if has, _ := pending.Has(ctx, u.ID); has {
		t.Errorf("Pending.Has() = true once every box is redeemed")
	}
	red, err = Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 2, nil)
	if err != nil || len(red.Entries) != 0 || red.More {
		t.Errorf("Redeem() with nothing pending = %+v, %v", red, err)
	}

	// Another user's pending entry is untouched, and their marker stays.
	if oe := readEntry(t, svc, other.ID, od.EntryID); oe.intakeBox == nil || oe.contentCT != nil || oe.version != 1 {
		t.Errorf("other user's entry changed: intake_box %v, content_ct %v, version %d", oe.intakeBox != nil, oe.contentCT != nil, oe.version)
	}
	if has, _ := pending.Has(ctx, other.ID); !has {
		t.Errorf("other user's marker cleared")
	}
	// The other user's master key does not redeem this user's boxes (nor theirs with ours).
	if _, err := Redeem(ctx, svc.DB, pending, other.ID, u.MasterKey, 10, nil); !errors.Is(err, ErrNoPrivateKey) {
		t.Errorf("Redeem(other user, wrong master key) = %v, want %v", err, ErrNoPrivateKey)
	}
	if oe := readEntry(t, svc, other.ID, od.EntryID); oe.intakeBox == nil {
		t.Errorf("a failed redemption changed the entry")
	}
}

// TestRedeemRollsBack: an onOpen error undoes the whole batch and keeps the marker.
func TestRedeemRollsBack(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	pending := NewPending(svc.Redis)
	u := testenv.NewUser(t, svc, "uce")
	d, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "import"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("indexer down")
	_, err = Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 10, func(context.Context, pgx.Tx, string, Body) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Redeem(failing onOpen) = %v, want %v", err, boom)
	}
	if e := readEntry(t, svc, u.ID, d.EntryID); e.intakeBox == nil || e.contentCT != nil || e.version != 1 {
		t.Errorf("entry after a rolled-back redemption: intake_box %v, content_ct %v, version %d", e.intakeBox != nil, e.contentCT != nil, e.version)
	}
	if has, _ := pending.Has(ctx, u.ID); !has {
		t.Errorf("Pending.Has() = false after a rolled-back redemption")
	}
}

// TestRedeemSetsMarker: a redemption that did not start from the marker (a login after
// Redis lost it) sets it while boxes are left.
func TestRedeemSetsMarker(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	pending := NewPending(svc.Redis)
	u := testenv.NewUser(t, svc, "uce")
	for range 2 {
		if _, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "import"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pending.clear(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	red, err := Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 1, nil)
	if err != nil || !red.More {
		t.Fatalf("Redeem(limit 1) = %+v, %v, want more", red, err)
	}
	if has, _ := pending.Has(ctx, u.ID); !has {
		t.Errorf("Pending.Has() = false with a box left after a redemption")
	}
}

// TestStaleMarker: a delivery that rolls back leaves the marker; the next redemption
// finds nothing and clears it.
func TestStaleMarker(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	pending := NewPending(svc.Redis)
	u := testenv.NewUser(t, svc, "uce")
	rollback := errors.New("caller rolls back")
	err := store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
		if _, err := Deliver(ctx, tx, pending, Incoming{UserID: u.ID, Body: Body{Content: "x"}, Source: "import"}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if has, _ := pending.Has(ctx, u.ID); !has {
		t.Fatalf("Pending.Has() = false after a delivery that marked")
	}
	if red, err := Redeem(ctx, svc.DB, pending, u.ID, u.MasterKey, 10, nil); err != nil || len(red.Entries) != 0 {
		t.Fatalf("Redeem() = %+v, %v, want nothing", red, err)
	}
	if has, _ := pending.Has(ctx, u.ID); has {
		t.Errorf("Pending.Has() = true after an empty redemption")
	}
}

// TestCanaryNotInTheClear: a delivered body's text is in no column of the row in the
// clear, for either tier, before or after redemption.
func TestCanaryNotInTheClear(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	const canary = "CANARY-intake-4c1f9e"
	for _, tier := range []string{"e2e", "uce"} {
		u := testenv.NewUser(t, svc, tier)
		d, err := deliver(t, svc, Incoming{UserID: u.ID, Body: Body{Title: ptr(canary + " title"), Content: canary + " content"},
			Source: "facebook", Tags: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		check := func(when string) {
			// Each bytea column as stored, and the whole row as text for the others (a
			// bytea shows as hex there, hence the columns one by one).
			var text string
			var blobs [4][]byte
			if err := svc.DB.QueryRow(ctx, `SELECT e::text, title_ct, content_ct, ciphertext, intake_box FROM entries e WHERE id = $1`, d.EntryID).Scan(
				&text, &blobs[0], &blobs[1], &blobs[2], &blobs[3]); err != nil {
				t.Fatal(err)
			}
			for _, b := range append(blobs[:], []byte(text)) {
				if bytes.Contains(b, []byte(canary)) {
					t.Errorf("%s %s: the canary is in the entry row in the clear", tier, when)
				}
			}
		}
		check("delivered")
		if tier == "uce" {
			if _, err := Redeem(ctx, svc.DB, NewPending(svc.Redis), u.ID, u.MasterKey, 10, nil); err != nil {
				t.Fatal(err)
			}
			check("redeemed")
		}
	}
}
