package fbsync

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/facebook/facebooktest"
	"github.com/xmojo/diary/shared/intake"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

const (
	appID, appSecret = "424242", "sync-test-secret"
	redirect         = "https://app.example.test/cb"
)

type harness struct {
	svc    *platform.Services
	fake   *facebooktest.Fake
	fb     *facebook.Client
	tokens *integration.Tokens
	sink   *testenv.EventSink
	f      *Function
	now    time.Time
	logs   *testenv.LogBuffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	logs := testenv.CaptureLogs(t)
	svc := testenv.Services(t)
	fake := facebooktest.New(t, appID, appSecret)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sk := testenv.NewEventSink(t)
	h := &harness{svc: svc, fake: fake, sink: sk, now: time.Now(), logs: logs}
	cfg := Config{Facebook: fake.Config(redirect), TokenKey: base64.StdEncoding.EncodeToString(key), Sink: sk.URL,
		Timeout: time.Minute, PageSize: 2, UsageLimit: 80, Clock: func() time.Time { return h.now }}
	f, err := NewWithServices(cfg, svc.DB, svc.Redis, nil)
	if err != nil {
		t.Fatalf("NewWithServices() = %v", err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) }) // its relay, before svc closes
	h.f, h.tokens = f, f.tokens
	if h.fb, err = facebook.NewClient(cfg.Facebook, nil); err != nil {
		t.Fatal(err)
	}
	return h
}

// connect stores an integration of u for a new Facebook user the way the integrations
// function's callback does (a real token from the fake's exchange, sealed to the row),
// with a queued pull; it returns the integration and the pull's job id.
func (h *harness) connect(t *testing.T, u testenv.User, posts ...facebook.Post) (integration.Integration, string, string) {
	t.Helper()
	ctx := t.Context()
	fbID := strings.ReplaceAll(uuid.NewString(), "-", "")[:15]
	h.fake.AddUser(&facebooktest.User{ID: fbID, Name: "Bea", Posts: posts})
	short, err := h.fb.ExchangeCode(ctx, h.fake.Authorize(fbID, redirect), redirect)
	if err != nil {
		t.Fatal(err)
	}
	long, err := h.fb.LongLived(ctx, short.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	ct, err := h.tokens.Seal(u.ID, id, integration.Facebook, long.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var jobID string
	err = store.Transact(ctx, h.svc.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO integrations (id, user_id, provider, external_account_id, display_name, status, access_token_ct, connected_at)
			VALUES ($1, $2, 'facebook', $3, 'Bea', 'active', $4, now())`, id, u.ID, fbID, ct); err != nil {
			return err
		}
		i, err := integration.Get(ctx, tx, u.ID, id)
		if err != nil {
			return err
		}
		jobID, _, err = integration.QueuePull(ctx, tx, i)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	i, err := integration.Get(ctx, h.svc.DB, u.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return i, jobID, fbID
}

func pullEvent(t *testing.T, userID, integrationID, jobID string) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypeIntegrationPullRequested)
	ev.SetSource(eventing.SourceIntegrations)
	ev.SetSubject(integrationID)
	if err := ev.SetData("application/json", eventing.IntegrationPullRequested{UserID: userID, IntegrationID: integrationID, JobID: jobID}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func tick(t *testing.T) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypePing)
	ev.SetSource(eventing.SourceFacebookSync)
	if err := ev.SetData("application/json", eventing.PingData{Job: eventing.JobFacebookSync}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func (h *harness) handle(t *testing.T, ev event.Event) {
	t.Helper()
	if _, err := h.f.Handle(t.Context(), ev); err != nil {
		t.Fatalf("Handle(%s) = %v", ev.Type(), err)
	}
}

func post(id, message string, at time.Time) facebook.Post {
	return facebook.Post{ID: id, Message: message, CreatedTime: facebook.Time{Time: at.UTC().Truncate(time.Second)},
		PermalinkURL: "https://www.facebook.com/" + id}
}

type storedEntry struct {
	ID         string
	Source     string
	OccurredAt time.Time
	Ciphertext []byte
	Format     *string
	Box        []byte
	ContentCT  []byte
	TitleCT    []byte
	BodyVer    int
}

func entriesOf(t *testing.T, h *harness, userID string) []storedEntry {
	t.Helper()
	rows, err := h.svc.DB.Query(t.Context(), `
		SELECT id, source, occurred_at, ciphertext, ciphertext_format, intake_box, content_ct, title_ct, body_version
		FROM entries WHERE user_id = $1 ORDER BY occurred_at DESC`, userID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedEntry, error) {
		var e storedEntry
		return e, r.Scan(&e.ID, &e.Source, &e.OccurredAt, &e.Ciphertext, &e.Format, &e.Box, &e.ContentCT, &e.TitleCT, &e.BodyVer)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jobOf(t *testing.T, h *harness, userID, id string) job.Job {
	t.Helper()
	j, err := job.Get(t.Context(), h.svc.DB, userID, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestPullImportsEachPostOnce is the sync's whole path for both tiers: a pull pages
// through the posts and imports each one as an entry sealed to the user's key (e2e: the
// box is the ciphertext and opens with the private key; uce: pending until the next
// request re-seals it), a redelivered event and a second pull import nothing, the hourly
// tick imports only what is new, and a canary in a post is nowhere in the clear.
func TestPullImportsEachPostOnce(t *testing.T) {
	h := newHarness(t)
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	canary := "canary-" + hex.EncodeToString(nonce)
	base := time.Now().Add(-72 * time.Hour)
	posts := []facebook.Post{
		post("p1", canary+" first", base),
		post("p2", "second", base.Add(time.Hour)),
		{ID: "p3", CreatedTime: facebook.Time{Time: base.Add(2 * time.Hour).UTC().Truncate(time.Second)}}, // a photo: no text
		post("p4", "fourth", base.Add(3*time.Hour)),
	}
	for _, tier := range []string{"e2e", "uce"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			i, jobID, fbID := h.connect(t, u, posts...)
			ev := pullEvent(t, u.ID, i.ID, jobID)
			h.handle(t, ev)

			j := jobOf(t, h, u.ID, jobID)
			if j.Status != job.Succeeded || j.Result["imported"] != float64(3) || j.Result["skipped"] != float64(1) {
				t.Errorf("pull job = %+v, want succeeded with 3 imported and 1 skipped", j)
			}
			got := entriesOf(t, h, u.ID)
			if len(got) != 3 {
				t.Fatalf("%d entries, want 3", len(got))
			}
			for k, e := range got {
				p := []facebook.Post{posts[3], posts[1], posts[0]}[k]
				if e.Source != "facebook" || !e.OccurredAt.Equal(p.CreatedTime.Time) {
					t.Errorf("entry %d = source %q occurred_at %v, want facebook at %v", k, e.Source, e.OccurredAt, p.CreatedTime.Time)
				}
				want := p.Message + "\n\n" + p.PermalinkURL
				if tier == "e2e" {
					body, err := intake.Open(u.PrivateKey, e.ID, e.Ciphertext)
					if err != nil || body.Content != want || e.Format == nil || *e.Format != intake.Format {
						t.Errorf("e2e entry %d opens to %+v, %v (format %v); want %q", k, body, err, e.Format, want)
					}
				} else if e.Box == nil || e.ContentCT != nil {
					t.Errorf("uce entry %d: box %d bytes, content_ct %d bytes; want a pending box", k, len(e.Box), len(e.ContentCT))
				}
			}
			// The dedupe: the same event again, another pull and an overlapping page
			// import nothing.
			h.handle(t, ev)
			h.handle(t, pullEvent(t, u.ID, i.ID, ""))
			if n := len(entriesOf(t, h, u.ID)); n != 3 {
				t.Errorf("%d entries after a redelivery and a second pull, want 3", n)
			}
			// The hourly tick imports only the new post.
			h.fake.AddPosts(fbID, post("p5", "fifth", base.Add(4*time.Hour)))
			h.handle(t, tick(t))
			if n := len(entriesOf(t, h, u.ID)); n != 4 {
				t.Errorf("%d entries after the tick, want 4", n)
			}
			stored, _ := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)
			if stored.LastSyncedAt == nil || stored.SyncCursor == nil || !stored.SyncCursor.Equal(base.Add(4*time.Hour).UTC().Truncate(time.Second)) {
				t.Errorf("after the tick: last_synced_at %v, cursor %v; want the newest post's time", stored.LastSyncedAt, stored.SyncCursor)
			}
			if tier == "uce" {
				// The user's next request re-seals the boxes under the master key.
				red, err := intake.Redeem(t.Context(), h.svc.DB, intake.NewPending(h.svc.Redis), u.ID, u.MasterKey, 10, nil)
				if err != nil || len(red.Entries) != 4 {
					t.Fatalf("Redeem() = %d entries, %v; want 4", len(red.Entries), err)
				}
				e := entriesOf(t, h, u.ID)[3]
				_, content, err := entrybody.Open(u.MasterKey, u.ID, e.ID, e.BodyVer, entrybody.Sealed{Title: e.TitleCT, Content: e.ContentCT})
				if err != nil || !strings.HasPrefix(content, canary) {
					t.Errorf("redeemed entry opens to %q, %v; want the first post", content, err)
				}
			}
			// Each imported entry's entry.changed was written in its delivery's transaction;
			// the relay sends them (before the user's rows go at the subtest's end).
			want := map[string]bool{}
			for _, e := range testenv.Outbox(t, h.svc.DB, u.ID) {
				want[e.ID] = true
			}
			h.sink.Wait(t, func(evs []testenv.Event) bool {
				n := 0
				for _, e := range evs {
					if want[e.ID] {
						n++
					}
				}
				return n == len(want)
			})
			for _, call := range h.fake.Calls() {
				if call.Token != "" && !call.Proof {
					t.Errorf("%s %s without a valid appsecret_proof", call.Method, call.Path)
				}
			}
		})
	}
	// entry.changed for each import, ids only.
	events := h.sink.Events()
	if len(events) != 8 {
		t.Errorf("%d events, want 8 (one entry.changed per imported entry, 4 per user)", len(events))
	}
	for _, e := range events {
		if e.Type != eventing.TypeEntryChanged || e.Source != eventing.SourceEntries {
			t.Errorf("event %+v, want entry.changed", e)
		}
	}

	secrets := map[string]string{"the canary": canary}
	for k, tok := range h.fake.Tokens() {
		secrets[fmt.Sprintf("token %d", k)] = tok
	}
	testenv.WantNowhere(t, h.svc.Redis, secrets, map[string]string{"the logs": h.logs.String(), "the events": h.sink.Text()})
	if !strings.Contains(h.logs.String(), "fbsync: pull done") {
		t.Error("the captured logs miss the consumer's lines; is the capture working?")
	}
}

func TestExpiredTokenNeedsReauth(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	i, jobID, fbID := h.connect(t, u, post("p1", "hello", time.Now().Add(-time.Hour)))
	h.fake.ExpireTokens(fbID)
	h.handle(t, pullEvent(t, u.ID, i.ID, jobID))
	stored, _ := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)
	if stored.Status != integration.NeedsReauth {
		t.Errorf("status = %q, want needs_reauth", stored.Status)
	}
	if j := jobOf(t, h, u.ID, jobID); j.Status != job.Failed || j.Error == nil || *j.Error != integration.ReauthMessage {
		t.Errorf("job = %+v, want failed with the reauth message", j)
	}
	// The hourly sync leaves it alone: no Graph call is made for it.
	before := len(h.fake.Calls())
	h.handle(t, tick(t))
	for _, c := range h.fake.Calls()[before:] {
		if c.Path == "/me/posts" {
			t.Errorf("the tick called %s for an integration that needs reauth", c.Path)
		}
	}
	if n := len(entriesOf(t, h, u.ID)); n != 0 {
		t.Errorf("%d entries, want 0", n)
	}
}

func TestThrottlingHoldsBack(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "e2e")
	base := time.Now().Add(-time.Hour)
	i, jobID, _ := h.connect(t, u, post("p1", "a", base), post("p2", "b", base.Add(time.Minute)), post("p3", "c", base.Add(2*time.Minute)))

	for _, code := range []int{facebook.CodeAPITooManyCalls, facebook.CodeAPIUserTooManyCalls, facebook.CodePageTooManyCalls, facebook.CodeCustomRateLimit} {
		h.fake.FailNext("GET /me/posts", 400, code, 0, fmt.Sprintf("(#%d) limit reached", code))
		h.handle(t, pullEvent(t, u.ID, i.ID, jobID))
		stored, _ := integration.Get(t.Context(), h.svc.DB, u.ID, i.ID)
		if stored.SyncNotBefore == nil || !stored.SyncNotBefore.After(h.now) || stored.Status != integration.Active {
			t.Fatalf("after code %d: sync_not_before %v status %s, want a hold-back, still active", code, stored.SyncNotBefore, stored.Status)
		}
		if j := jobOf(t, h, u.ID, jobID); j.Status != job.Running || j.Result["waiting_until"] == nil {
			t.Errorf("after code %d: job = %+v, want running and waiting", code, j)
		}
	}
	// A tick during the pause does nothing; one after it finishes the pull.
	h.handle(t, tick(t))
	if n := len(entriesOf(t, h, u.ID)); n != 0 {
		t.Errorf("%d entries imported during the pause, want 0", n)
	}
	h.now = h.now.Add(defaultHoldBack + time.Minute)
	h.handle(t, tick(t))
	if j := jobOf(t, h, u.ID, jobID); j.Status != job.Succeeded || j.Result["imported"] != float64(3) {
		t.Errorf("job after the pause = %+v, want succeeded with 3 imported", j)
	}

	// Usage near the limit: the sync stops after the page it has and waits as long as
	// Facebook says (the business use case header's minutes).
	u2 := testenv.NewUser(t, h.svc, "e2e")
	i2, job2, _ := h.connect(t, u2, post("q1", "a", base), post("q2", "b", base.Add(time.Minute)), post("q3", "c", base.Add(2*time.Minute)))
	h.fake.SetUsage(30, 85, 42)
	h.handle(t, pullEvent(t, u2.ID, i2.ID, job2))
	h.fake.SetUsage(0, 0, 0)
	if n := len(entriesOf(t, h, u2.ID)); n != 2 {
		t.Errorf("%d entries imported at 85%% usage, want 2 (the first page, then a stop)", n)
	}
	stored, _ := integration.Get(t.Context(), h.svc.DB, u2.ID, i2.ID)
	if stored.SyncNotBefore == nil || stored.SyncNotBefore.Sub(h.now) < 41*time.Minute {
		t.Errorf("sync_not_before = %v, want 42 minutes after %v", stored.SyncNotBefore, h.now)
	}
}

func TestRefusedAndUnreachableGraph(t *testing.T) {
	h := newHarness(t)
	u := testenv.NewUser(t, h.svc, "uce")
	i, jobID, _ := h.connect(t, u, post("p1", "a", time.Now()))
	h.fake.FailNext("GET /me/posts", 403, facebook.CodeAPIPermissionDenied, 0, "(#10) Permission denied")
	h.handle(t, pullEvent(t, u.ID, i.ID, jobID))
	if j := jobOf(t, h, u.ID, jobID); j.Status != job.Failed || j.Error == nil || *j.Error != permissionMessage {
		t.Errorf("job = %+v, want failed with the permission message", j)
	}

	// Facebook unreachable: the event fails, so the Broker retries it.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	down.Close()
	cfg := h.f.cfg
	cfg.Facebook.GraphURL = down.URL
	f, err := NewWithServices(cfg, h.svc.DB, h.svc.Redis, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	u2 := testenv.NewUser(t, h.svc, "e2e")
	i2, job2, _ := h.connect(t, u2, post("p1", "a", time.Now()))
	if _, err := f.Handle(t.Context(), pullEvent(t, u2.ID, i2.ID, job2)); err == nil {
		t.Error("Handle with Facebook unreachable = nil, want an error for the Broker to retry")
	}
	if j := jobOf(t, h, u2.ID, job2); j.Status == job.Succeeded || j.Status == job.Failed {
		t.Errorf("job after an unreachable Facebook = %+v, want still open", j)
	}
}

// TestAnotherUsersIntegration: a pull event naming another user's integration finds
// nothing, imports nothing and touches neither job.
func TestAnotherUsersIntegration(t *testing.T) {
	h := newHarness(t)
	owner, other := testenv.NewUser(t, h.svc, "e2e"), testenv.NewUser(t, h.svc, "e2e")
	i, jobID, _ := h.connect(t, owner, post("p1", "a", time.Now()))
	h.handle(t, pullEvent(t, other.ID, i.ID, jobID))
	if n := len(entriesOf(t, h, other.ID)) + len(entriesOf(t, h, owner.ID)); n != 0 {
		t.Errorf("%d entries, want 0", n)
	}
	if j := jobOf(t, h, owner.ID, jobID); j.Status != job.Queued {
		t.Errorf("owner's job = %+v, want still queued", j)
	}
}

func TestUnconfiguredAcknowledges(t *testing.T) {
	svc := testenv.Services(t)
	f, err := NewWithServices(Config{Timeout: time.Minute, PageSize: 10, UsageLimit: 80}, svc.DB, svc.Redis, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop(context.Background()) })
	if _, err := f.Handle(context.Background(), tick(t)); err != nil {
		t.Errorf("Handle without an app = %v, want nil", err)
	}
	if ok, err := f.Ready(context.Background()); !ok || err != nil {
		t.Errorf("Ready() = %v, %v", ok, err)
	}
}
