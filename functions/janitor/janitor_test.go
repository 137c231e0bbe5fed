package janitor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/functions/janitor"
	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/host"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
	"github.com/xmojo/diary/shared/userlock"
)

const day = 24 * time.Hour

// world is what a test needs: the database, the object store and a way to deliver events
// to a janitor through the project's own Trigger, as the Broker would.
type world struct {
	t       *testing.T
	svc     *platform.Services
	objects *objstore.Store
	cfg     janitor.Config
	ping    local.PingSource
	m       *local.Manifests
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.Env(t)
	svc := testenv.Services(t)
	var cfg janitor.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v (run under scripts/test, which sets the S3_* settings)", err)
	}
	// Retention periods longer than the defaults: tests of other packages, running at the
	// same time against the same database, age their own rows to just past the defaults
	// (30 days, 24 hours) and must not see them purged under their feet.
	cfg.EntryRetention = 45 * day
	cfg.PendingUploadTTL = 36 * time.Hour
	cfg.IdempotencyKeyTTL = 72 * time.Hour
	objects, err := objstore.New(cfg.Config)
	if err != nil {
		t.Fatalf("objstore.New() = %v", err)
	}
	if err := objects.EnsureBucket(context.Background()); err != nil {
		t.Fatalf("EnsureBucket() = %v", err)
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatalf("local.Load() = %v", err)
	}
	// The project's Broker retries with waits of 0.5 s to 8 s; keep the tests quick.
	for i := range m.Brokers {
		m.Brokers[i].Delivery.BackoffDelay = "PT0.01S"
	}
	ps, ok := m.PingSource("daily-cleanup")
	if !ok {
		t.Fatal("no PingSource daily-cleanup in eventing/manifests")
	}
	return &world{t: t, svc: svc, objects: objects, cfg: cfg, ping: ps, m: m}
}

// router returns a Broker stand-in delivering to a janitor that uses objects, hosted the
// way func-go hosts it (CloudEvents over HTTP).
func (w *world) router(objects *objstore.Store) *local.Router {
	w.t.Helper()
	fn, err := janitor.NewWithServices(w.cfg, w.svc.DB, objects)
	if err != nil {
		w.t.Fatalf("NewWithServices() = %v", err)
	}
	h, err := host.New(fn)
	if err != nil {
		w.t.Fatal(err)
	}
	handlers := map[string]http.Handler{"janitor": h}
	// The other consumers' Triggers need a subscriber too. A cleanup tick also reaches the
	// purge's sweep (Trigger purge-daily-cleanup): they acknowledge and do nothing here.
	for _, tr := range w.m.Triggers {
		if ref := tr.Subscriber.Ref; ref != nil && handlers[ref.Name] == nil {
			handlers[ref.Name] = http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				rw.WriteHeader(http.StatusOK)
			})
		}
	}
	r, err := local.NewRouter(w.m, local.Options{
		Handlers: handlers,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		w.t.Fatalf("NewRouter() = %v", err)
	}
	w.t.Cleanup(r.Close)
	return r
}

// tick is the event the PingSource daily-cleanup sends, built from its manifest.
func (w *world) tick() event.Event {
	w.t.Helper()
	ev, err := local.PingEvent(w.ping, time.Now())
	if err != nil {
		w.t.Fatalf("PingEvent() = %v", err)
	}
	return ev
}

func (w *world) user() string {
	return testenv.NewUser(w.t, w.svc, "e2e").ID
}

// entry inserts an e2e entry, soft-deleted deletedAgo ago unless deletedAgo is 0.
func (w *world) entry(userID string, deletedAgo time.Duration) string {
	w.t.Helper()
	return w.entryIn(w.svc.DB, userID, deletedAgo)
}

// entryIn is entry run on db, which may be a transaction.
func (w *world) entryIn(db store.DBTX, userID string, deletedAgo time.Duration) string {
	w.t.Helper()
	id := uuid.NewString()
	now := time.Now()
	var deletedAt *time.Time
	version := 1
	if deletedAgo > 0 {
		d := now.Add(-deletedAgo)
		deletedAt = &d
		version = 2
	}
	_, err := db.Exec(context.Background(), `
		INSERT INTO entries (id, user_id, ciphertext, body_version, occurred_at, created_at, updated_at, deleted_at, version, content_bytes)
		VALUES ($1, $2, $3, 1, $4, $4, $4, $5, $6, 16)`,
		id, userID, randomBytes(w.t, 16), now.Add(-60*day), deletedAt, version)
	if err != nil {
		w.t.Fatalf("insert entry: %v", err)
	}
	return id
}

// belongings gives an entry a history row and an idempotency key.
func (w *world) belongings(userID, entryID string) {
	w.t.Helper()
	ctx := context.Background()
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO entry_events (entry_id, user_id, event_type, version, at) VALUES ($1, $2, 'created', 1, now())`, []any{entryID, userID}},
		{`INSERT INTO entry_idempotency (user_id, key_hash, request_hash, entry_id) VALUES ($1, $2, $3, $4)`,
			[]any{userID, randomBytes(w.t, 32), randomBytes(w.t, 32), entryID}},
	}
	for _, s := range stmts {
		if _, err := w.svc.DB.Exec(ctx, s.sql, s.args...); err != nil {
			w.t.Fatalf("%s: %v", s.sql, err)
		}
	}
}

type mediaSpec struct {
	entryID    string
	status     string // pending or ready
	createdAgo time.Duration
	deletedAgo time.Duration // 0: not deleted
	object     bool          // the bytes are in S3
}

// media inserts a media row for userID and, when asked, puts its object in S3 through a
// presigned PUT, the way a client uploads.
func (w *world) media(userID string, s mediaSpec) (id, key string) {
	w.t.Helper()
	ctx := context.Background()
	id = uuid.NewString()
	key = "u/" + userID + "/" + id
	body := randomBytes(w.t, 64)
	sum := sha256.Sum256(body)
	created := time.Now().Add(-s.createdAgo)
	var completed, deleted *time.Time
	if s.status == "ready" {
		completed = &created
	}
	if s.deletedAgo > 0 {
		d := time.Now().Add(-s.deletedAgo)
		deleted = &d
	}
	var entryID *string
	if s.entryID != "" {
		entryID = &s.entryID
	}
	_, err := w.svc.DB.Exec(ctx, `
		INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
		                   status, created_at, upload_expires_at, completed_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, 'image/jpeg', $6, $7, $8, $9, $10, $11, $12)`,
		id, userID, entryID, key, []byte("photo.jpg"), len(body), sum[:], s.status, created,
		created.Add(15*time.Minute), completed, deleted)
	if err != nil {
		w.t.Fatalf("insert media: %v", err)
	}
	if s.object {
		put, err := w.objects.PresignPut(ctx, key, int64(len(body)), sum[:], "image/jpeg", time.Minute)
		if err != nil {
			w.t.Fatalf("PresignPut() = %v", err)
		}
		req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader(body))
		for k, v := range put.Header {
			req.Header.Set(k, v)
		}
		req.ContentLength = int64(len(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.t.Fatalf("PUT object: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.t.Fatalf("PUT object = %d, want 200", resp.StatusCode)
		}
	}
	return id, key
}

func (w *world) exists(table, id string) bool {
	w.t.Helper()
	var ok bool
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&ok); err != nil {
		w.t.Fatalf("exists(%s, %s): %v", table, id, err)
	}
	return ok
}

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.svc.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (w *world) objectExists(key string) bool {
	w.t.Helper()
	_, ok, err := w.objects.Head(context.Background(), key)
	if err != nil {
		w.t.Fatalf("Head(%s) = %v", key, err)
	}
	return ok
}

type job struct {
	ID         string
	Status     string
	Progress   int
	Error      *string
	Result     map[string]any
	ParentID   *string
	FinishedAt *time.Time
}

// userJobs returns the cleanup jobs of a user.
func userJobs(t *testing.T, db *pgxpool.Pool, userID string) []job {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT id::text, status, progress, error, result, parent_id::text, finished_at
		  FROM jobs WHERE user_id = $1 AND kind = 'cleanup' ORDER BY created_at`, userID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var jobs []job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.ID, &j.Status, &j.Progress, &j.Error, &j.Result, &j.ParentID, &j.FinishedAt); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func asInt(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func TestCleanupPurgesExactlyWhatIsPastRetention(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.user(), w.user()

	// Entries.
	oldDeleted := w.entry(alice, 46*day)
	w.belongings(alice, oldDeleted)
	recentDeleted := w.entry(alice, 44*day)
	live := w.entry(alice, 0)
	w.belongings(alice, live)
	bobOld := w.entry(bob, 60*day)

	// Media.
	deletedLongAgo, deletedLongAgoKey := w.media(alice, mediaSpec{status: "ready", createdAgo: 3 * day, deletedAgo: 2 * time.Hour, object: true})
	deletedJustNow, deletedJustNowKey := w.media(alice, mediaSpec{status: "ready", createdAgo: 3 * day, deletedAgo: time.Minute, object: true})
	ready, readyKey := w.media(alice, mediaSpec{status: "ready", createdAgo: 90 * day, object: true})
	stalePending, stalePendingKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 37 * time.Hour, object: true})
	staleNoBytes, _ := w.media(alice, mediaSpec{status: "pending", createdAgo: 48 * time.Hour})
	freshPending, freshPendingKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 35 * time.Hour, object: true})
	attached, attachedKey := w.media(alice, mediaSpec{entryID: oldDeleted, status: "ready", createdAgo: 50 * day, object: true})

	// Idempotency keys on a live entry: one past its 24 hours, one not.
	ctx := context.Background()
	for _, age := range []time.Duration{73 * time.Hour, time.Hour} {
		_, err := w.svc.DB.Exec(ctx, `
			INSERT INTO entry_idempotency (user_id, key_hash, request_hash, entry_id, created_at)
			VALUES ($1, $2, $3, $4, now() - $5::interval)`,
			alice, randomBytes(t, 32), randomBytes(t, 32), live, age.String())
		if err != nil {
			t.Fatal(err)
		}
	}

	if err := w.router(w.objects).Publish(ctx, w.tick()); err != nil {
		t.Fatalf("Publish(daily-cleanup tick) = %v", err)
	}

	rows := []struct {
		name, table, id string
		want            bool
	}{
		{"entry deleted 46 days ago (retention 45)", "entries", oldDeleted, false},
		{"entry deleted 44 days ago", "entries", recentDeleted, true},
		{"live entry", "entries", live, true},
		{"bob's entry deleted 60 days ago", "entries", bobOld, false},
		{"media deleted 2 hours ago", "media", deletedLongAgo, false},
		{"media deleted a minute ago (download URLs may still be live)", "media", deletedJustNow, true},
		{"ready media", "media", ready, true},
		{"upload pending for 37 hours (TTL 36)", "media", stalePending, false},
		{"upload pending for 48 hours, no bytes sent", "media", staleNoBytes, false},
		{"upload pending for 35 hours", "media", freshPending, true},
		{"media attached to the purged entry", "media", attached, true},
	}
	for _, r := range rows {
		if got := w.exists(r.table, r.id); got != r.want {
			t.Errorf("%s: row exists = %v, want %v", r.name, got, r.want)
		}
	}
	objects := []struct {
		name, key string
		want      bool
	}{
		{"media deleted 2 hours ago", deletedLongAgoKey, false},
		{"media deleted a minute ago", deletedJustNowKey, true},
		{"ready media", readyKey, true},
		{"upload pending for 37 hours", stalePendingKey, false},
		{"upload pending for 35 hours", freshPendingKey, true},
		{"media attached to the purged entry", attachedKey, true},
	}
	for _, o := range objects {
		if got := w.objectExists(o.key); got != o.want {
			t.Errorf("%s: object exists = %v, want %v", o.name, got, o.want)
		}
	}
	var entryID *string
	if err := w.svc.DB.QueryRow(ctx, `SELECT entry_id::text FROM media WHERE id = $1`, attached).Scan(&entryID); err != nil || entryID != nil {
		t.Errorf("media of the purged entry: entry_id = %v (%v), want NULL", entryID, err)
	}
	for _, c := range []struct {
		name, sql string
		want      int
	}{
		{"history of the purged entry", `SELECT count(*) FROM entry_events WHERE entry_id = $1`, 0},
		{"idempotency keys of the purged entry", `SELECT count(*) FROM entry_idempotency WHERE entry_id = $1`, 0},
	} {
		if got := w.count(c.sql, oldDeleted); got != c.want {
			t.Errorf("%s = %d, want %d", c.name, got, c.want)
		}
	}
	if got := w.count(`SELECT count(*) FROM entry_idempotency WHERE entry_id = $1`, live); got != 2 {
		t.Errorf("idempotency keys of the live entry = %d, want 2 (its own from belongings and the 1-hour-old one; the 73-hour-old one expired)", got)
	}

	// What each user can read about the run: their own counts, nothing of the other's.
	want := map[string]map[string]int{
		alice: {"entries_purged": 1, "media_removed": 3, "uploads_expired": 2},
		bob:   {"entries_purged": 1, "media_removed": 0, "uploads_expired": 0},
	}
	for user, counts := range want {
		jobs := userJobs(t, w.svc.DB, user)
		if len(jobs) != 1 {
			t.Fatalf("user has %d cleanup jobs, want 1", len(jobs))
		}
		j := jobs[0]
		if j.Status != "succeeded" || j.Progress != 100 || j.FinishedAt == nil || j.Error != nil || j.ParentID == nil {
			t.Errorf("cleanup job = %+v, want succeeded, progress 100, finished, child of the run", j)
		}
		for k, v := range counts {
			if got := asInt(j.Result[k]); got != v {
				t.Errorf("cleanup job result[%s] = %d, want %d (result %v)", k, got, v, j.Result)
			}
		}
		// Tags live on the entry row and go with it: nothing collects them any more.
		if _, ok := j.Result["tags_removed"]; ok {
			t.Errorf("cleanup job result = %v, want no tags_removed", j.Result)
		}
	}
	var runStatus string
	var runUser *string
	if err := w.svc.DB.QueryRow(ctx, `SELECT status, user_id::text FROM jobs WHERE id = $1`, *userJobs(t, w.svc.DB, alice)[0].ParentID).Scan(&runStatus, &runUser); err != nil {
		t.Fatal(err)
	}
	if runStatus != "succeeded" || runUser != nil {
		t.Errorf("run job: status %q, user %v; want succeeded, a system job (no user)", runStatus, runUser)
	}
}

// A restore holds the user's entry write lock, as the entries function does; the purge
// waits for it and must then keep the entry it would otherwise delete.
func TestCleanupWaitsForAConcurrentRestore(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	restored, purged := w.entry(alice, 46*day), w.entry(alice, 47*day)
	r := w.router(w.objects)
	ev := w.tick()
	ctx := context.Background()

	tx, err := w.svc.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := userlock.Lock(ctx, tx, alice, userlock.Entries); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- r.Publish(ctx, ev) }()
	// Restore and commit only once the purge waits for alice's entry lock; a purge that
	// finishes first did not take it.
	for {
		n, err := userlock.Waiting(ctx, w.svc.DB, alice, userlock.Entries)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the cleanup finished (%v) without waiting for the user's entry lock", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE entries SET deleted_at = NULL, version = version + 1 WHERE id = $1`, restored); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Publish(daily-cleanup tick) = %v", err)
	}

	if !w.exists("entries", restored) {
		t.Errorf("entry restored while the purge waited was purged")
	}
	if w.exists("entries", purged) {
		t.Errorf("entry past retention survived the run")
	}
	if jobs := userJobs(t, w.svc.DB, alice); len(jobs) != 1 || asInt(jobs[0].Result["entries_purged"]) != 1 {
		t.Errorf("cleanup jobs = %+v, want one with entries_purged 1", jobs)
	}
}

func TestSameEventTwiceDoesTheWorkOnce(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	first := w.entry(alice, 46*day)
	r := w.router(w.objects)
	ev := w.tick()
	// The alert "daily cleanup not run in 26 h" reads this series (knative/monitoring).
	metrics.JobLastSuccess.WithLabelValues("cleanup").Set(0)

	if err := r.Publish(context.Background(), ev); err != nil {
		t.Fatalf("first Publish() = %v", err)
	}
	if w.exists("entries", first) {
		t.Fatalf("entry past retention survived the first delivery")
	}
	if got := testutil.ToFloat64(metrics.JobLastSuccess.WithLabelValues("cleanup")); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("diary_job_last_success_timestamp_seconds{kind=cleanup} = %v after a run, want now", got)
	}
	// Between the deliveries another entry passes retention: a second delivery of the
	// same event must not act again (tomorrow's tick will purge it).
	second := w.entry(alice, 46*day)
	if err := r.Publish(context.Background(), ev); err != nil {
		t.Fatalf("second Publish() = %v", err)
	}
	if !w.exists("entries", second) {
		t.Errorf("the redelivered event purged again; want it acknowledged without work")
	}
	jobs := userJobs(t, w.svc.DB, alice)
	if len(jobs) != 1 || asInt(jobs[0].Result["entries_purged"]) != 1 {
		t.Errorf("cleanup jobs after two deliveries = %+v, want one job with entries_purged 1", jobs)
	}
	if got := w.count(`SELECT count(*) FROM processed_events WHERE consumer = 'janitor' AND event_id = $1`, ev.ID()); got != 1 {
		t.Errorf("processed_events rows for the event = %d, want 1", got)
	}

	// A new tick (a new id) does the work.
	if err := r.Publish(context.Background(), w.tick()); err != nil {
		t.Fatalf("Publish(next tick) = %v", err)
	}
	if w.exists("entries", second) {
		t.Errorf("the next tick did not purge the entry past retention")
	}
}

func TestFailedRunIsRetriedThenResumedWithoutHarm(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	stale, staleKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 40 * time.Hour, object: true})
	deleted, deletedKey := w.media(alice, mediaSpec{status: "ready", createdAgo: day, deletedAgo: time.Hour, object: true})
	old := w.entry(alice, 46*day)

	// An object store that does not answer: the run fails half-way (after expiring the
	// stale upload, before removing any object), so the janitor returns an error and the
	// Broker retries, then dead-letters.
	brokenCfg := w.cfg.Config
	brokenCfg.Endpoint = "http://127.0.0.1:1"
	broken, err := objstore.New(brokenCfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := w.tick()
	err = w.router(broken).Publish(context.Background(), ev)
	if !errors.Is(err, local.ErrDeadLettered) {
		t.Fatalf("Publish() with S3 down = %v, want the event dead-lettered after retries", err)
	}
	jobs := userJobs(t, w.svc.DB, alice)
	if len(jobs) != 1 || jobs[0].Status != "failed" || jobs[0].Error == nil {
		t.Fatalf("cleanup job after the failure = %+v, want one failed job with an error message", jobs)
	}
	for _, id := range []string{stale, deleted} {
		if !w.exists("media", id) {
			t.Errorf("media %s was deleted although its object could not be removed", id)
		}
	}
	if !w.exists("entries", old) {
		t.Errorf("the failed run went on past the failing step")
	}

	// The same event again, with S3 back (an operator re-sending the dead letter): the
	// run resumes and finishes, counting each item once although the first attempts
	// expired the stale upload already.
	if err := w.router(w.objects).Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish() with S3 back = %v", err)
	}
	for _, id := range []string{stale, deleted} {
		if w.exists("media", id) {
			t.Errorf("media %s survived the resumed run", id)
		}
	}
	for _, key := range []string{staleKey, deletedKey} {
		if w.objectExists(key) {
			t.Errorf("object %s survived the resumed run", key)
		}
	}
	if w.exists("entries", old) {
		t.Errorf("entry past retention survived the resumed run")
	}
	jobs = userJobs(t, w.svc.DB, alice)
	if len(jobs) != 1 {
		t.Fatalf("cleanup jobs = %d, want the same job resumed", len(jobs))
	}
	j := jobs[0]
	if j.Status != "succeeded" || j.Error != nil {
		t.Errorf("resumed job = %+v, want succeeded without error", j)
	}
	for k, v := range map[string]int{"entries_purged": 1, "media_removed": 2, "uploads_expired": 1} {
		if got := asInt(j.Result[k]); got != v {
			t.Errorf("resumed job result[%s] = %d, want %d (result %v)", k, got, v, j.Result)
		}
	}
}

func TestIgnoresEventsForOtherJobs(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	old := w.entry(alice, 46*day)
	fn, err := janitor.NewWithServices(w.cfg, w.svc.DB, w.objects)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  string
		data any
	}{
		{"another job", eventing.TypePing, eventing.PingData{Job: "facebook-sync"}},
		{"not a ping", eventing.TypeEntryChanged, eventing.EntryChanged{EntryID: old}},
		{"not JSON", eventing.TypePing, "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event.New()
			ev.SetID(uuid.NewString())
			ev.SetType(tt.typ)
			ev.SetSource("/test")
			raw, _ := json.Marshal(tt.data)
			if s, ok := tt.data.(string); ok {
				raw = []byte(s)
			}
			if err := ev.SetData("application/json", raw); err != nil {
				t.Fatal(err)
			}
			if out, err := fn.Handle(context.Background(), ev); out != nil || err != nil {
				t.Errorf("Handle(%s) = %v, %v; want acknowledged (nil, nil)", tt.name, out, err)
			}
		})
	}
	if !w.exists("entries", old) {
		t.Errorf("an event that is not a cleanup ping purged an entry")
	}
}

func TestStartNamesTheBadSetting(t *testing.T) {
	base := map[string]string{"S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s",
		"DATABASE_URL": "postgres://127.0.0.1:1/x"}
	tests := []struct{ name, value string }{
		{"ENTRY_RETENTION", "-1h"},
		{"PENDING_UPLOAD_TTL", "soon"},
		{"CLEANUP_BATCH_SIZE", "0"},
		{"DATABASE_URL", "postgres://[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tt.name] = tt.value
			err := janitor.New().Start(context.Background(), env)
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("Start() with %s=%q = %v, want an error naming %s", tt.name, tt.value, err, tt.name)
			}
		})
	}
}
