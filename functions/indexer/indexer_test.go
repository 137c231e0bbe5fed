package indexer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/blindindex"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

type harness struct {
	svc *platform.Services
	fn  *Function
}

func newHarness(t *testing.T, batch int) *harness {
	t.Helper()
	svc := testenv.Services(t)
	fn, err := NewWithServices(Config{BatchSize: batch, RunTimeout: time.Minute}, svc.DB, svc.Sessions)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{svc: svc, fn: fn}
}

// putEntry writes a uce entry sealed under u's key with no search tokens, as an entry
// written before the index existed, and returns its id.
func (h *harness) putEntry(t *testing.T, u testenv.User, content string, deleted bool) string {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	body, err := entrybody.Seal(u.MasterKey, u.ID, id, 1, nil, content)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Transact(t.Context(), h.svc.DB, func(tx pgx.Tx) error {
		at, err := userlock.Lock(t.Context(), tx, u.ID, userlock.Entries)
		if err != nil {
			return err
		}
		var deletedAt *time.Time
		if deleted {
			deletedAt = &at
		}
		_, err = tx.Exec(t.Context(), `
			INSERT INTO entries (id, user_id, title_ct, content_ct, body_version, source, occurred_at,
				created_at, updated_at, deleted_at, version, content_bytes, tags)
			VALUES ($1, $2, NULL, $3, 1, 'app', $4, $4, $4, $5, 1, $6, '{}')`,
			id, u.ID, body.Content, at, deletedAt, body.Size())
		return err
	})
	if err != nil {
		t.Fatalf("put entry: %v", err)
	}
	return id
}

// queue queues a reindex job for u and returns the event the search function would send.
func (h *harness) queue(t *testing.T, u testenv.User) (string, event.Event) {
	t.Helper()
	jobID, err := job.Queue(t.Context(), h.svc.DB, u.ID, "search_index")
	if err != nil {
		t.Fatal(err)
	}
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypeSearchReindexRequested)
	ev.SetSource(eventing.SourceSearch)
	ev.SetSubject(jobID)
	if err := ev.SetData(event.ApplicationJSON, eventing.SearchReindexRequested{UserID: u.ID, JobID: jobID, SessionID: u.SessionID}); err != nil {
		t.Fatal(err)
	}
	return jobID, ev
}

func (h *harness) deliver(t *testing.T, ev event.Event) {
	t.Helper()
	reply, err := h.fn.Handle(t.Context(), ev)
	if err != nil || reply != nil {
		t.Fatalf("Handle = %v, %v; want no reply and no error", reply, err)
	}
}

func (h *harness) job(t *testing.T, u testenv.User, id string) job.Job {
	t.Helper()
	j, err := job.Get(t.Context(), h.svc.DB, u.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// indexed returns the entry ids of u's search_index rows with when each was written.
func (h *harness) indexed(t *testing.T, u testenv.User) map[string]time.Time {
	t.Helper()
	rows, err := h.svc.DB.Query(t.Context(), `SELECT entry_id::text, indexed_at FROM search_index WHERE user_id = $1`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		out[id] = at
	}
	return out
}

// matches reports whether u's indexed entry id matches the query, by its stored tokens.
func (h *harness) matches(t *testing.T, u testenv.User, id, query string) bool {
	t.Helper()
	k, err := blindindex.NewKey(u.MasterKey, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	q, err := blindindex.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT tokens @@ $2::tsquery FROM search_index WHERE entry_id = $1`, id, k.TSQuery(q)).Scan(&ok); err != nil {
		t.Fatalf("match %s: %v", id, err)
	}
	return ok
}

// TestReindexLifecycle: a queued job runs in batches, indexes every entry of the user
// (deleted ones too, so a restore finds them) and nothing of anyone else's, and succeeds
// with its counts; its text leaves no trace in the logs.
func TestReindexLifecycle(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	h := newHarness(t, 2)
	u := testenv.NewUser(t, h.svc, "uce")
	other := testenv.NewUser(t, h.svc, "uce")
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	canary := "canary" + hex.EncodeToString(nonce)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.putEntry(t, u, fmt.Sprintf("%s walked to the harbour, day %d", canary, i), i == 4))
	}
	h.putEntry(t, other, "not this user's", false)
	jobID, ev := h.queue(t, u)
	if j := h.job(t, u, jobID); j.Status != job.Queued {
		t.Fatalf("job before delivery: %s, want queued", j.Status)
	}

	h.deliver(t, ev)

	j := h.job(t, u, jobID)
	if j.Status != job.Succeeded || j.Progress != 100 || j.Error != nil {
		t.Fatalf("job = %s %d%% %v, want succeeded 100%%", j.Status, j.Progress, j.Error)
	}
	if j.Result[resultIndexed] != float64(5) || j.Result[resultUnreadable] != float64(0) {
		t.Errorf("result = %v, want 5 indexed, 0 unreadable", j.Result)
	}
	got := h.indexed(t, u)
	if len(got) != 5 {
		t.Errorf("%d entries indexed, want 5", len(got))
	}
	for _, id := range ids {
		if !h.matches(t, u, id, "walk harbour") {
			t.Errorf("entry %s does not match its own words after the reindex", id)
		}
	}
	if n := len(h.indexed(t, other)); n != 0 {
		t.Errorf("the other user has %d entries indexed, want 0", n)
	}
	if strings.Contains(logs.String(), canary) {
		t.Error("the logs hold entry text")
	}
	if !strings.Contains(logs.String(), "reindex done") {
		t.Errorf("no reindex done log line: is the capture working?\n%s", logs)
	}
}

// TestRedeliveryDoesNotDoubleTheWork: the same event again is acknowledged and rewrites
// nothing.
func TestRedeliveryDoesNotDoubleTheWork(t *testing.T) {
	h := newHarness(t, 10)
	u := testenv.NewUser(t, h.svc, "uce")
	h.putEntry(t, u, "first", false)
	h.putEntry(t, u, "second", false)
	jobID, ev := h.queue(t, u)
	h.deliver(t, ev)
	before, result := h.indexed(t, u), h.job(t, u, jobID).Result

	h.deliver(t, ev)

	after := h.indexed(t, u)
	for id, at := range before {
		if !after[id].Equal(at) {
			t.Errorf("entry %s reindexed by the redelivery (%v, then %v)", id, at, after[id])
		}
	}
	if got := h.job(t, u, jobID).Result; fmt.Sprint(got) != fmt.Sprint(result) {
		t.Errorf("result after redelivery = %v, want %v", got, result)
	}
}

// TestResumesWhereItStopped: a job whose earlier delivery recorded progress up to an
// entry goes on after it and keeps the counts.
func TestResumesWhereItStopped(t *testing.T) {
	h := newHarness(t, 2)
	u := testenv.NewUser(t, h.svc, "uce")
	var ids []string
	for i := range 4 {
		ids = append(ids, h.putEntry(t, u, fmt.Sprintf("entry %d", i), false))
	}
	jobID, ev := h.queue(t, u)
	// As an earlier delivery leaves it: running, the first two done.
	if _, err := job.Start(t.Context(), h.svc.DB, u.ID, jobID); err != nil {
		t.Fatal(err)
	}
	if err := job.Progress(t.Context(), h.svc.DB, jobID, 50, map[string]any{resultIndexed: 2, resultUnreadable: 0, resultAfter: ids[1]}); err != nil {
		t.Fatal(err)
	}

	h.deliver(t, ev)

	got := h.indexed(t, u)
	for i, id := range ids {
		if _, ok := got[id]; ok != (i >= 2) {
			t.Errorf("entry %d indexed = %v, want %v (only those after the recorded progress)", i, ok, i >= 2)
		}
	}
	if j := h.job(t, u, jobID); j.Status != job.Succeeded || j.Result[resultIndexed] != float64(4) {
		t.Errorf("job = %s %v, want succeeded with 4 indexed", j.Status, j.Result)
	}
}

// TestFailsAfterLogout: once the session has ended, the job fails with a message that
// says what to do, writes no tokens, and a redelivery changes nothing.
func TestFailsAfterLogout(t *testing.T) {
	h := newHarness(t, 10)
	u := testenv.NewUser(t, h.svc, "uce")
	h.putEntry(t, u, "a text", false)
	jobID, ev := h.queue(t, u)
	if err := h.svc.Sessions.Revoke(t.Context(), u.SessionID); err != nil {
		t.Fatal(err)
	}

	h.deliver(t, ev)

	j := h.job(t, u, jobID)
	if j.Status != job.Failed || j.Error == nil || *j.Error != MessageLogInAgain {
		t.Fatalf("job = %s %v, want failed %q", j.Status, j.Error, MessageLogInAgain)
	}
	if n := len(h.indexed(t, u)); n != 0 {
		t.Errorf("%d entries indexed without a session, want 0", n)
	}
	h.deliver(t, ev)
	if j2 := h.job(t, u, jobID); j2.Status != job.Failed || *j2.Error != MessageLogInAgain {
		t.Errorf("job after redelivery = %s %v", j2.Status, j2.Error)
	}
}

// TestRefusesWhatIsNotItsToTrust: an event naming another user's session, or another
// user's job, does nothing with either.
func TestRefusesWhatIsNotItsToTrust(t *testing.T) {
	h := newHarness(t, 10)
	u := testenv.NewUser(t, h.svc, "uce")
	mallory := testenv.NewUser(t, h.svc, "uce")
	h.putEntry(t, u, "u's text", false)

	// u's job with mallory's session: the session is not u's, so the job fails.
	jobID, _ := h.queue(t, u)
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(eventing.TypeSearchReindexRequested)
	ev.SetSource(eventing.SourceSearch)
	_ = ev.SetData(event.ApplicationJSON, eventing.SearchReindexRequested{UserID: u.ID, JobID: jobID, SessionID: mallory.SessionID})
	h.deliver(t, ev)
	if j := h.job(t, u, jobID); j.Status != job.Failed || *j.Error != MessageLogInAgain {
		t.Errorf("job with another user's session = %s %v, want failed", j.Status, j.Error)
	}
	// mallory naming u's job: not mallory's job, acknowledged, nothing done.
	jobID2, _ := h.queue(t, u)
	ev2 := event.New()
	ev2.SetID(uuid.NewString())
	ev2.SetType(eventing.TypeSearchReindexRequested)
	ev2.SetSource(eventing.SourceSearch)
	_ = ev2.SetData(event.ApplicationJSON, eventing.SearchReindexRequested{UserID: mallory.ID, JobID: jobID2, SessionID: mallory.SessionID})
	h.deliver(t, ev2)
	if j := h.job(t, u, jobID2); j.Status != job.Queued {
		t.Errorf("u's job after mallory's event = %s, want queued", j.Status)
	}
	if n := len(h.indexed(t, u)); n != 0 {
		t.Errorf("%d entries indexed, want 0", n)
	}
	// Another type, and malformed data: acknowledged.
	other := event.New()
	other.SetID(uuid.NewString())
	other.SetType(eventing.TypeEntryChanged)
	other.SetSource(eventing.SourceEntries)
	h.deliver(t, other)
	bad := event.New()
	bad.SetID(uuid.NewString())
	bad.SetType(eventing.TypeSearchReindexRequested)
	bad.SetSource(eventing.SourceSearch)
	_ = bad.SetData(event.ApplicationJSON, map[string]string{"user_id": "x"})
	h.deliver(t, bad)
}

// TestUnreadableEntriesAreCountedNotIndexed: an entry that fails its integrity check is
// skipped and counted; the job still succeeds.
func TestUnreadableEntriesAreCountedNotIndexed(t *testing.T) {
	h := newHarness(t, 10)
	u := testenv.NewUser(t, h.svc, "uce")
	good := h.putEntry(t, u, "fine", false)
	bad := h.putEntry(t, u, "moved", false)
	if _, err := h.svc.DB.Exec(context.Background(), `UPDATE entries SET content_ct = (SELECT content_ct FROM entries WHERE id = $1) WHERE id = $2`, good, bad); err != nil {
		t.Fatal(err)
	}
	jobID, ev := h.queue(t, u)
	h.deliver(t, ev)
	j := h.job(t, u, jobID)
	if j.Status != job.Succeeded || j.Result[resultIndexed] != float64(1) || j.Result[resultUnreadable] != float64(1) {
		t.Errorf("job = %s %v, want succeeded, 1 indexed, 1 unreadable", j.Status, j.Result)
	}
	if got := h.indexed(t, u); len(got) != 1 {
		t.Errorf("indexed %v, want only %s", got, good)
	}
}
