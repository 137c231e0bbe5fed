package outbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/store"
	"github.com/xmojo/diary/shared/testenv"
)

// The tests of this package run one at a time (no t.Parallel): a relay sends every row of
// the table, so two tests' relays would take each other's rows. Each test's users' rows
// are deleted when it ends (testenv.NewUser).

// received is one event as a sink saw it.
type received struct {
	ID, Type, Source, Subject, Time, Data string
}

// sink is a Broker ingress for the tests: it records what it accepts, answers 503 to the
// event ids in down (or to everything while allDown), and can hold every request until
// released.
type sink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	cond    *sync.Cond
	got     []received
	tries   map[string]int
	down    map[string]bool
	allDown bool
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{tries: map[string]int{}, down: map[string]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := received{r.Header.Get("Ce-Id"), r.Header.Get("Ce-Type"), r.Header.Get("Ce-Source"),
			r.Header.Get("Ce-Subject"), r.Header.Get("Ce-Time"), string(body)}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.tries[ev.ID]++
		if s.allDown || s.down[ev.ID] {
			s.cond.Broadcast()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.got = append(s.got, ev)
		s.cond.Broadcast()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// waitFor blocks until the sink has accepted n events (the test's deadline bounds it).
func (s *sink) waitFor(n int) []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.got) < n {
		s.cond.Wait()
	}
	return append([]received(nil), s.got...)
}

func (s *sink) set(fn func(s *sink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

type payload struct {
	UserID string `json:"user_id"`
	N      int    `json:"n"`
}

// add writes one event of the user in its own committed transaction.
func add(t *testing.T, svc *platform.Services, userID string, n int) string {
	t.Helper()
	var id string
	err := store.Transact(context.Background(), svc.DB, func(tx pgx.Tx) error {
		var err error
		id, err = outbox.Add(context.Background(), tx, "com.xmojo.diary.test.happened", "/diary/test", userID, userID, payload{userID, n})
		return err
	})
	if err != nil {
		t.Fatalf("Add() = %v", err)
	}
	return id
}

// state is a row's delivery state.
type state struct {
	Attempts  int
	Delivered bool
	WaitsFor  time.Duration // next_attempt_at less now
}

func rowState(t *testing.T, svc *platform.Services, id string) state {
	t.Helper()
	var s state
	var secs float64
	err := svc.DB.QueryRow(context.Background(), `
		SELECT attempts, delivered_at IS NOT NULL, extract(epoch FROM next_attempt_at - clock_timestamp())::float8
		  FROM outbox WHERE id = $1`, id).Scan(&s.Attempts, &s.Delivered, &secs)
	if err != nil {
		t.Fatalf("read row %s: %v", id, err)
	}
	s.WaitsFor = time.Duration(secs * float64(time.Second))
	return s
}

// dueNow lets time pass for the rows: their backoff or lease is over.
func dueNow(t *testing.T, svc *platform.Services, ids ...string) {
	t.Helper()
	if _, err := svc.DB.Exec(context.Background(), `UPDATE outbox SET next_attempt_at = clock_timestamp() WHERE id = ANY($1::uuid[])`, ids); err != nil {
		t.Fatal(err)
	}
}

func newRelay(t *testing.T, svc *platform.Services, url string, cfg outbox.RelayConfig) *outbox.Relay {
	t.Helper()
	cfg.Sink = url
	if cfg.Backoff == 0 {
		// A failed row waits until the test says time has passed.
		cfg.Backoff, cfg.MaxBackoff = time.Hour, 10*time.Hour
	}
	r, err := outbox.NewRelay(svc.DB, cfg)
	if err != nil {
		t.Fatalf("NewRelay() = %v", err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func flush(t *testing.T, r *outbox.Relay) int {
	t.Helper()
	n, err := r.Flush(context.Background())
	if err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	return n
}

// TestAddOnlyIfCommitted: an event is in the outbox exactly when its change's transaction
// commits.
func TestAddOnlyIfCommitted(t *testing.T) {
	svc := testenv.Services(t)
	tests := []struct {
		name   string
		commit bool
		want   int
	}{
		{"committed", true, 1},
		{"rolled back", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := testenv.NewUser(t, svc, "e2e")
			errRollback := errors.New("the change failed")
			err := store.Transact(context.Background(), svc.DB, func(tx pgx.Tx) error {
				if _, err := outbox.Add(context.Background(), tx, "com.xmojo.diary.test.happened", "/diary/test", u.ID, u.ID, payload{u.ID, 1}); err != nil {
					return err
				}
				if !tt.commit {
					return errRollback
				}
				return nil
			})
			if tt.commit && err != nil || !tt.commit && !errors.Is(err, errRollback) {
				t.Fatalf("Transact() = %v", err)
			}
			if got := len(testenv.Outbox(t, svc.DB, u.ID)); got != tt.want {
				t.Errorf("outbox rows after the transaction = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestSinkDownThenBack: while the Broker refuses, rows stay undelivered with a growing
// backoff; once it is back they are delivered with their own ids and times, and marked.
func TestSinkDownThenBack(t *testing.T) {
	svc := testenv.Services(t)
	s := newSink(t)
	r := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{Backoff: time.Hour, MaxBackoff: 3 * time.Hour})
	u := testenv.NewUser(t, svc, "e2e")
	id := add(t, svc, u.ID, 1)
	s.set(func(s *sink) { s.allDown = true })

	for attempt, wantWait := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour} {
		if n := flush(t, r); n != 0 {
			t.Fatalf("Flush() with the sink down delivered %d", n)
		}
		st := rowState(t, svc, id)
		if st.Delivered || st.Attempts != attempt+1 {
			t.Fatalf("after failure %d: %+v, want undelivered with %d attempts", attempt+1, st, attempt+1)
		}
		if st.WaitsFor < wantWait-time.Minute || st.WaitsFor > wantWait {
			t.Errorf("after failure %d the row waits %v, want about %v", attempt+1, st.WaitsFor, wantWait)
		}
		// Not due before its backoff: another flush does not try it.
		if n := flush(t, r); n != 0 || rowState(t, svc, id).Attempts != attempt+1 {
			t.Fatalf("a row in its backoff was tried again")
		}
		dueNow(t, svc, id)
	}

	s.set(func(s *sink) { s.allDown = false })
	if n := flush(t, r); n != 1 {
		t.Fatalf("Flush() with the sink back delivered %d, want 1", n)
	}
	got := s.received()
	row := testenv.Outbox(t, svc.DB, u.ID)[0]
	var at time.Time
	if err := svc.DB.QueryRow(context.Background(), `SELECT time FROM outbox WHERE id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id || got[0].Type != row.Type || got[0].Source != "/diary/test" || got[0].Subject != u.ID ||
		got[0].Data != string(row.Data) {
		t.Fatalf("delivered %+v, want the row %s as it was written", got, id)
	}
	if tm, err := time.Parse(time.RFC3339Nano, got[0].Time); err != nil || !tm.Equal(at) {
		t.Errorf("Ce-Time = %q, want the row's time %v", got[0].Time, at)
	}
	if !rowState(t, svc, id).Delivered {
		t.Errorf("the delivered row is not marked delivered")
	}
	if n := flush(t, r); n != 0 {
		t.Errorf("a delivered row was sent again")
	}
}

// TestNewRelayDeliversWhatAnOldOneLeft: rows an old process could not send, and a row an
// old process claimed and died with, are delivered by a new relay, with the same ids.
func TestNewRelayDeliversWhatAnOldOneLeft(t *testing.T) {
	svc := testenv.Services(t)
	down := newSink(t)
	down.set(func(s *sink) { s.allDown = true })
	old := newRelay(t, svc, down.srv.URL, outbox.RelayConfig{})
	u := testenv.NewUser(t, svc, "e2e")
	ids := []string{add(t, svc, u.ID, 1), add(t, svc, u.ID, 2)}
	flush(t, old)
	if err := old.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	dueNow(t, svc, ids...)

	// A relay that claimed rows and hangs in a send (a frozen process): its rows are
	// leased to it.
	v := testenv.NewUser(t, svc, "e2e")
	var once sync.Once
	hanging, unfreeze := make(chan struct{}), make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(hanging) })
		<-unfreeze
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer stuck.Close()
	leftID := add(t, svc, v.ID, 1)
	frozen := newRelay(t, svc, stuck.URL, outbox.RelayConfig{Lease: 2 * time.Hour, SendTimeout: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = frozen.Flush(context.Background())
	}()
	<-hanging
	defer func() { close(unfreeze); <-done }()

	s := newSink(t)
	fresh := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{})
	flush(t, fresh)
	// Whatever the dying relay leased (its lease of an hour) is not sent before it ends...
	leased := 0
	for _, id := range append(ids, leftID) {
		if st := rowState(t, svc, id); !st.Delivered && st.WaitsFor > 30*time.Minute {
			leased++
		}
	}
	if leased == 0 {
		t.Fatalf("no row was leased by the relay that died in a send")
	}
	// ...and is, with the same id, once the lease has run out.
	dueNow(t, svc, append(ids, leftID)...)
	flush(t, fresh)
	got := map[string]bool{}
	for _, e := range s.received() {
		got[e.ID] = true
	}
	for _, id := range append(ids, leftID) {
		if !got[id] || !rowState(t, svc, id).Delivered {
			t.Errorf("row %s was not delivered by the new relay (received %v)", id, got)
		}
	}
}

// TestPerUserOrderUnderFailures: a user's failing row holds that user's later rows and
// no one else's; once it goes, the rest follow in order.
func TestPerUserOrderUnderFailures(t *testing.T) {
	svc := testenv.Services(t)
	s := newSink(t)
	r := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{PerUser: 2})
	a, b := testenv.NewUser(t, svc, "e2e"), testenv.NewUser(t, svc, "e2e")
	a1, a2, a3 := add(t, svc, a.ID, 1), add(t, svc, a.ID, 2), add(t, svc, a.ID, 3)
	var bs []string
	for n := 1; n <= 5; n++ {
		bs = append(bs, add(t, svc, b.ID, n))
	}
	s.set(func(s *sink) { s.down[a1] = true })

	flush(t, r)
	var order []string
	for _, e := range s.received() {
		order = append(order, e.ID)
	}
	if want := bs; !equal(order, want) {
		t.Fatalf("sent %v with a's first row failing, want b's rows in order %v", order, want)
	}
	for _, id := range []string{a2, a3} {
		if st := rowState(t, svc, id); st.Delivered {
			t.Errorf("a's row %s went out before a's failing first row", id)
		}
	}
	s.mu.Lock()
	tries := s.tries[a2] + s.tries[a3]
	s.mu.Unlock()
	if tries != 0 {
		t.Errorf("a's later rows were tried %d times while the first one failed", tries)
	}

	s.set(func(s *sink) { s.down[a1] = false })
	dueNow(t, svc, a1)
	flush(t, r)
	order = order[:0]
	for _, e := range s.received()[len(bs):] {
		order = append(order, e.ID)
	}
	if want := []string{a1, a2, a3}; !equal(order, want) {
		t.Errorf("a's rows went out as %v, want %v", order, want)
	}
}

// TestTwoRelaysSendEachRowOnce: two relays flushing the same rows at once send each row
// once (in this quiet run; in general delivery is at least once) and keep each user's
// order.
func TestTwoRelaysSendEachRowOnce(t *testing.T) {
	svc := testenv.Services(t)
	s := newSink(t)
	r1 := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{Users: 3, PerUser: 2})
	r2 := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{Users: 3, PerUser: 2})
	const users, each = 6, 8
	want := map[string][]string{}
	var all []string
	for range users {
		u := testenv.NewUser(t, svc, "e2e")
		for n := range each {
			id := add(t, svc, u.ID, n)
			want[u.ID] = append(want[u.ID], id)
			all = append(all, id)
		}
	}
	var wg sync.WaitGroup
	for _, r := range []*outbox.Relay{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 { // each keeps flushing while the other does
				if _, err := r.Flush(context.Background()); err != nil {
					t.Errorf("Flush() = %v", err)
				}
			}
		}()
	}
	wg.Wait()
	flush(t, r1) // whatever the last rounds left to the other's lease release
	got := s.received()
	seen := map[string]int{}
	byUser := map[string][]string{}
	owner := map[string]string{}
	for u, ids := range want {
		for _, id := range ids {
			owner[id] = u
		}
	}
	for _, e := range got {
		seen[e.ID]++
		byUser[owner[e.ID]] = append(byUser[owner[e.ID]], e.ID)
	}
	for _, id := range all {
		if seen[id] != 1 {
			t.Errorf("row %s sent %d times, want once", id, seen[id])
		}
	}
	for u, ids := range want {
		if !equal(byUser[u], ids) {
			t.Errorf("user %s's rows arrived as %v, want %v", u, byUser[u], ids)
		}
	}
}

// TestRunningRelay: Start sends a committed row when woken, without a poll; Stop sends
// what is still due before it returns.
func TestRunningRelay(t *testing.T) {
	svc := testenv.Services(t)
	s := newSink(t)
	r := newRelay(t, svc, s.srv.URL, outbox.RelayConfig{Poll: time.Hour})
	r.Start()
	u := testenv.NewUser(t, svc, "e2e")
	first := add(t, svc, u.ID, 1)
	r.Wake()
	if got := s.waitFor(1); got[0].ID != first {
		t.Fatalf("the woken relay sent %+v, want %s", got, first)
	}
	second := add(t, svc, u.ID, 2) // no Wake: the poll is an hour away
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if !rowState(t, svc, second).Delivered {
		t.Errorf("Stop() returned with a due row undelivered")
	}
	r.Wake() // after Stop: a no-op, never a block
}

// TestNoSinkSendsNothing: without K_SINK a relay leaves the rows for one that has it.
func TestNoSinkSendsNothing(t *testing.T) {
	svc := testenv.Services(t)
	r := newRelay(t, svc, "", outbox.RelayConfig{})
	r.Start()
	u := testenv.NewUser(t, svc, "e2e")
	id := add(t, svc, u.ID, 1)
	r.Wake()
	if n := flush(t, r); n != 0 {
		t.Errorf("Flush() without a sink = %d", n)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := rowState(t, svc, id); st.Delivered || st.Attempts != 0 {
		t.Errorf("row without a sink: %+v, want untouched", st)
	}
}

// TestDeleteDelivered: the cleanup deletes delivered rows older than the cut-off, never an
// undelivered one.
func TestDeleteDelivered(t *testing.T) {
	svc := testenv.Services(t)
	u := testenv.NewUser(t, svc, "e2e")
	old, recent, undelivered := add(t, svc, u.ID, 1), add(t, svc, u.ID, 2), add(t, svc, u.ID, 3)
	ctx := context.Background()
	for id, ago := range map[string]string{old: "8 days", recent: "1 hour"} {
		if _, err := svc.DB.Exec(ctx, `UPDATE outbox SET delivered_at = now() - $2::interval WHERE id = $1`, id, ago); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.DB.Exec(ctx, `UPDATE outbox SET time = now() - interval '30 days' WHERE id = $1`, undelivered); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := outbox.DeleteDelivered(ctx, svc.DB, time.Now().Add(-7*24*time.Hour), 1)
		if err != nil {
			t.Fatalf("DeleteDelivered() = %v", err)
		}
		if n == 0 {
			break
		}
	}
	var left []string
	for _, e := range testenv.Outbox(t, svc.DB, u.ID) {
		left = append(left, e.ID)
	}
	if want := []string{recent, undelivered}; !equal(left, want) {
		t.Errorf("rows after the cleanup = %v, want %v (old delivered %s gone)", left, want, old)
	}
	b, err := outbox.Pending(ctx, svc.DB)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows < 1 || b.Oldest < 29*24*time.Hour {
		t.Errorf("Pending() = %+v, want at least the 30-day-old undelivered row", b)
	}
}

// TestAccountPurgeDoesNotWaitForASend: a users row is deleted (the purge's last step)
// while a relay is in the middle of sending that user's event: the delete does not wait,
// the rows go with the user, and the relay's late mark is harmless.
func TestAccountPurgeDoesNotWaitForASend(t *testing.T) {
	svc := testenv.Services(t)
	hold, holding := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(holding)
		<-hold
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	r := newRelay(t, svc, srv.URL, outbox.RelayConfig{})
	u := testenv.NewUser(t, svc, "e2e")
	add(t, svc, u.ID, 1)
	done := make(chan error, 1)
	go func() {
		_, err := r.Flush(context.Background())
		done <- err
	}()
	<-holding
	// The Broker has the event and has not answered: the purge deletes the account.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := store.Transact(ctx, svc.DB, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '20s'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID)
		return err
	})
	if err != nil {
		t.Fatalf("delete the users row during a send = %v", err)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Errorf("Flush() after its user was deleted = %v", err)
	}
	if n := len(testenv.Outbox(t, svc.DB, u.ID)); n != 0 {
		t.Errorf("%d outbox rows outlived their user", n)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {9, 256 * time.Second},
		{10, 5 * time.Minute}, {60, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := outbox.Backoff(time.Second, 5*time.Minute, tt.attempts); got != tt.want {
			t.Errorf("Backoff(1s, 5m, %d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
