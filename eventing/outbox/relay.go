package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/store"
)

// claimLock keys the transaction-level advisory lock (two-int form: classid 1720, objid
// 0) that serialises relays' claims. A claim is one short statement; holding the lock for
// it means each claim sees every earlier claim and delivery committed, so no two relays
// ever hold one row, and a user's next row is never claimed while an earlier one is in
// another relay's hands. Row locks (FOR UPDATE SKIP LOCKED) could not say that: "the
// user's earliest undelivered row" is a property of several rows, which a lock on one row
// does not protect. Sends run after the claim has committed, outside any transaction, so
// no lock is held while the Broker answers: a purge deleting a user's rows never waits for
// a send.
const claimLock = 1720

// RelayConfig is how a Relay sends. Zero fields take the defaults in brackets.
type RelayConfig struct {
	// Sink is the Broker ingress (K_SINK). Empty: the relay sends nothing, and the rows
	// wait for a relay that has one (the janitor's sweep in the cluster).
	Sink string
	// Logger logs failed sends (ids and types only) [slog.Default()].
	Logger *slog.Logger
	// Backoff is the wait after a row's first failed send; each further failure doubles
	// it, up to MaxBackoff [1s, 5m]. No jitter: the retries of an outage are spread by the
	// relay's own concurrency bound, and tests see exact waits.
	Backoff, MaxBackoff time.Duration
	// Lease is how long a claimed row is the relay's: no other relay sends it (or a later
	// row of its user) until the lease has run out. A round stops sending at half of it,
	// so a relay that is merely slow never sends a row another relay has taken over [1m].
	Lease time.Duration
	// SendTimeout bounds one send [10s].
	SendTimeout time.Duration
	// Poll is the longest the running relay sleeps without a Wake, to pick up rows written
	// by other processes [30s].
	Poll time.Duration
	// Drain bounds how long Stop keeps sending what is due [5s].
	Drain time.Duration
	// Users bounds the users whose rows one round claims [100]; PerUser the rows of one
	// user [20]; Concurrency the users sent to at once [8].
	Users, PerUser, Concurrency int
}

// Relay sends outbox rows to the Broker. Every function that writes events runs one from
// its Start (Start) and stops it in its Stop (Stop); the producer calls Wake after each
// commit that added a row. Any relay sends any function's rows: they all go to the one
// Broker, so one that is running delivers what others left. A nil *Relay does nothing.
type Relay struct {
	db     *pgxpool.Pool
	cfg    RelayConfig
	client cloudevents.Client
	log    *slog.Logger

	wake     chan struct{}
	stopping chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
	started  atomic.Bool
	stopOnce sync.Once
}

// NewRelay returns a relay over db sending to cfg.Sink, not yet running.
func NewRelay(db *pgxpool.Pool, cfg RelayConfig) (*Relay, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Backoff, time.Second)
	def(&cfg.MaxBackoff, 5*time.Minute)
	def(&cfg.Lease, time.Minute)
	def(&cfg.SendTimeout, 10*time.Second)
	def(&cfg.Poll, 30*time.Second)
	def(&cfg.Drain, 5*time.Second)
	if cfg.Users <= 0 {
		cfg.Users = 100
	}
	if cfg.PerUser <= 0 {
		cfg.PerUser = 20
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Relay{db: db, cfg: cfg, log: cfg.Logger,
		wake: make(chan struct{}, 1), stopping: make(chan struct{}), done: make(chan struct{})}
	if cfg.Sink != "" {
		p, err := cloudevents.NewHTTP(cloudevents.WithTarget(cfg.Sink))
		if err != nil {
			return nil, fmt.Errorf("outbox: K_SINK: %w", err)
		}
		if r.client, err = cloudevents.NewClient(p); err != nil {
			return nil, fmt.Errorf("outbox: client: %w", err)
		}
	}
	return r, nil
}

// Start runs the relay in the background until Stop: it sends what is due at once, then
// whenever Wake is called, a backoff ends, or Poll passes.
func (r *Relay) Start() {
	if r == nil || r.client == nil || !r.started.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
}

// Wake tells the running relay that rows were committed. It never blocks.
func (r *Relay) Wake() {
	if r == nil {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stop ends the relay: it sends what is due for at most Drain, then returns. A send still
// under way when ctx ends is abandoned; its row is sent again (same id) by the next relay
// once the lease runs out.
func (r *Relay) Stop(ctx context.Context) error {
	if r == nil || !r.started.Load() {
		return nil
	}
	r.stopOnce.Do(func() { close(r.stopping) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.done
		return fmt.Errorf("outbox: stop relay: %w", ctx.Err())
	}
}

// Flush sends every row that is due now, round after round while rounds deliver
// something, and returns how many it delivered. A row that fails waits for its backoff
// and is not tried again by this call. The janitor's sweep calls it; so can tests.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	if r == nil || r.client == nil {
		return 0, nil
	}
	total := 0
	for {
		res, err := r.round(ctx)
		total += res.sent
		if err != nil {
			return total, err
		}
		if res.sent == 0 {
			r.measure(ctx)
			return total, nil
		}
	}
}

// run is the background loop of Start.
func (r *Relay) run(ctx context.Context) {
	defer close(r.done)
	defer r.cancel()
	for {
		res, err := r.round(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("outbox: relay round failed", "error", err.Error())
		}
		wait := time.Duration(0)
		if err != nil {
			wait = r.cfg.Backoff
		} else if res.sent == 0 {
			wait = r.untilDue(ctx)
		}
		if wait == 0 {
			select {
			case <-r.stopping:
				r.drain(ctx)
				return
			case <-ctx.Done():
				return
			default:
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-r.wake:
		case <-t.C:
		case <-r.stopping:
			t.Stop()
			r.drain(ctx)
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// drain is Stop's last Flush, bounded by Drain.
func (r *Relay) drain(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Drain)
	defer cancel()
	if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("outbox: drain at stop failed", "error", err.Error())
	}
}

// untilDue measures the backlog and returns how long until the earliest user's next row
// is due, within (0, Poll].
func (r *Relay) untilDue(ctx context.Context) time.Duration {
	r.measure(ctx)
	var secs *float64
	err := r.db.QueryRow(ctx, `
		SELECT extract(epoch FROM min(next_attempt_at) - clock_timestamp())::float8
		  FROM (SELECT DISTINCT ON (user_id) next_attempt_at FROM outbox
		         WHERE delivered_at IS NULL ORDER BY user_id, seq) heads`).Scan(&secs)
	if err != nil || secs == nil {
		return r.cfg.Poll
	}
	d := time.Duration(*secs * float64(time.Second))
	if d > r.cfg.Poll {
		return r.cfg.Poll
	}
	// Never zero: a round just found nothing due, and a wake ends the wait anyway.
	return max(d, 10*time.Millisecond)
}

// measure records the backlog in the shared metrics.
func (r *Relay) measure(ctx context.Context) {
	b, err := Pending(ctx, r.db)
	if err != nil {
		return
	}
	metrics.OutboxBacklog.Set(float64(b.Rows))
	metrics.OutboxOldestAge.Set(b.Oldest.Seconds())
}

// row is a claimed outbox row.
type row struct {
	ID       string
	Seq      int64
	UserID   string
	Type     string
	Source   string
	Subject  string
	Time     time.Time
	Data     []byte
	Attempts int
}

// roundResult counts what a round did.
type roundResult struct{ claimed, sent, failed int }

// round claims the due rows (the first PerUser undelivered rows of up to Users users whose
// earliest undelivered row is due), sends each user's in order, users side by side, and
// records the outcome of each.
func (r *Relay) round(ctx context.Context) (roundResult, error) {
	rows, err := r.claim(ctx)
	if err != nil || len(rows) == 0 {
		return roundResult{}, err
	}
	byUser := map[string][]row{}
	var users []string
	for _, rw := range rows {
		if _, ok := byUser[rw.UserID]; !ok {
			users = append(users, rw.UserID)
		}
		byUser[rw.UserID] = append(byUser[rw.UserID], rw)
	}
	// Half the lease: past it another relay may take the rows over, and must not find
	// this one still sending.
	sendCtx, cancel := context.WithTimeout(ctx, r.cfg.Lease/2)
	defer cancel()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Concurrency)
	for _, u := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func(own []row) {
			defer wg.Done()
			defer func() { <-sem }()
			s, f := r.sendUser(sendCtx, own)
			sent.Add(int64(s))
			failed.Add(int64(f))
		}(byUser[u])
	}
	wg.Wait()
	return roundResult{claimed: len(rows), sent: int(sent.Load()), failed: int(failed.Load())}, nil
}

// sendUser sends one user's claimed rows in seq order, stopping at the first that fails:
// that one waits for its backoff, and the rest are released (they are due again as soon as
// the failed one is delivered).
func (r *Relay) sendUser(ctx context.Context, rows []row) (sent, failed int) {
	// The marks must land even when ctx ends during a send: an accepted row left unmarked
	// would be sent again.
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for i, rw := range rows {
		err := ctx.Err()
		if err == nil {
			err = r.send(ctx, rw)
		}
		if err == nil {
			metrics.OutboxSent.WithLabelValues(rw.Type).Inc()
			if _, merr := r.db.Exec(markCtx, `UPDATE outbox SET delivered_at = clock_timestamp() WHERE id = $1`, rw.ID); merr != nil {
				// Sent but not marked: the lease runs out and it is sent again, same id.
				r.log.Warn("outbox: event sent but not marked delivered", "event_id", rw.ID, "error", merr.Error())
				r.release(markCtx, rows[i+1:])
				return sent, failed
			}
			sent++
			continue
		}
		if ctx.Err() != nil {
			// Stopped or out of the round's time: not the Broker's failure. The rows are
			// given back as they were (a send that got through is sent again, same id).
			r.release(markCtx, rows[i:])
			return sent, failed
		}
		failed++
		wait := backoff(r.cfg.Backoff, r.cfg.MaxBackoff, rw.Attempts+1)
		metrics.OutboxSendFailures.WithLabelValues(rw.Type).Inc()
		r.log.Warn("outbox: event not accepted, retrying", "event_id", rw.ID, "event_type", rw.Type,
			"attempts", rw.Attempts+1, "retry_in", wait.String(), "error", err.Error())
		msg := err.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		if _, merr := r.db.Exec(markCtx, `
			UPDATE outbox SET attempts = attempts + 1, next_attempt_at = clock_timestamp() + $2::interval, last_error = $3
			 WHERE id = $1 AND delivered_at IS NULL`, rw.ID, wait, msg); merr != nil {
			r.log.Warn("outbox: failed send not recorded", "event_id", rw.ID, "error", merr.Error())
		}
		r.release(markCtx, rows[i+1:])
		return sent, failed
	}
	return sent, failed
}

// release gives claimed rows back before their lease ends.
func (r *Relay) release(ctx context.Context, rows []row) {
	if len(rows) == 0 {
		return
	}
	ids := make([]string, len(rows))
	for i, rw := range rows {
		ids[i] = rw.ID
	}
	if _, err := r.db.Exec(ctx, `
		UPDATE outbox SET next_attempt_at = clock_timestamp()
		 WHERE id = ANY($1::uuid[]) AND delivered_at IS NULL`, ids); err != nil {
		r.log.Warn("outbox: claimed rows not released; they wait for their lease", "error", err.Error())
	}
}

// send posts one row as a CloudEvent in binary mode: the row's id and time are the event's.
func (r *Relay) send(ctx context.Context, rw row) error {
	ev := cloudevents.NewEvent()
	ev.SetID(rw.ID)
	ev.SetType(rw.Type)
	ev.SetSource(rw.Source)
	if rw.Subject != "" {
		ev.SetSubject(rw.Subject)
	}
	ev.SetTime(rw.Time.UTC())
	if err := ev.SetData(cloudevents.ApplicationJSON, rw.Data); err != nil {
		return fmt.Errorf("outbox: encode %s: %w", rw.Type, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
	defer cancel()
	res := r.client.Send(cloudevents.ContextWithTarget(ctx, r.cfg.Sink), ev)
	if cloudevents.IsACK(res) {
		return nil
	}
	if res == nil {
		return errors.New("outbox: send: no answer")
	}
	return fmt.Errorf("outbox: send %s: %w", rw.Type, res)
}

// claimStatement leases the due rows: for each user whose earliest undelivered row is due,
// that row and the next ones up to $2, for up to $1 users, the longest-waiting first. It
// runs under claimLock, so it sees every earlier claim.
const claimStatement = `
WITH heads AS (
    SELECT DISTINCT ON (user_id) user_id, next_attempt_at
      FROM outbox WHERE delivered_at IS NULL
     ORDER BY user_id, seq
), due AS (
    SELECT user_id FROM heads WHERE next_attempt_at <= clock_timestamp()
     ORDER BY next_attempt_at, user_id LIMIT $1
), claimed AS (
    SELECT o.id FROM due
      CROSS JOIN LATERAL (SELECT id FROM outbox
                           WHERE user_id = due.user_id AND delivered_at IS NULL
                           ORDER BY seq LIMIT $2) o
)
UPDATE outbox SET next_attempt_at = clock_timestamp() + $3::interval
 WHERE id IN (SELECT id FROM claimed)
RETURNING id, seq, user_id, type, source, subject, time, data, attempts`

// claim leases the rows a round sends, in one short transaction under claimLock.
func (r *Relay) claim(ctx context.Context) ([]row, error) {
	var rows []row
	err := store.Transact(ctx, r.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, 0)`, claimLock); err != nil {
			return store.Translate(err)
		}
		res, err := tx.Query(ctx, claimStatement, r.cfg.Users, r.cfg.PerUser, r.cfg.Lease)
		if err != nil {
			return store.Translate(err)
		}
		rows, err = pgx.CollectRows(res, pgx.RowToStructByPos[row])
		return store.Translate(err)
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Seq < rows[j].Seq })
	return rows, nil
}

// backoff is the wait after a row's attempts-th failed send: base doubled for each failure
// after the first, at most ceiling.
func backoff(base, ceiling time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= ceiling {
			return ceiling
		}
	}
	return min(d, ceiling)
}
