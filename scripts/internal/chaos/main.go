// Command chaos is scripts/chaos: it drives a running scripts/dev with simulated clients
// while it injects faults one after another (a PostgreSQL restart, Redis, the S3 server
// and the local Broker each stopped for a while), then checks that every write the API
// acknowledged is still there, unchanged and in the sync feed, and that each produced
// exactly one entry.changed event, and prints a table per fault. It sends traffic only to
// loopback and is bounded in time and in requests. See scripts/chaos for the settings.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// config is the run's settings, from the flags.
type config struct {
	root, state, api string
	clients, users   int
	duration, fault  time.Duration
	settle, timeout  time.Duration
	faults           []string
	maxRequests      int
	trace            string
}

func main() {
	var cfg config
	var faults string
	flag.StringVar(&cfg.root, "root", ".", "the repository (scripts/lib/services.sh)")
	flag.StringVar(&cfg.state, "state", ".dev", "the state dir of the running scripts/dev")
	flag.StringVar(&cfg.api, "api", "http://127.0.0.1:8080/api/v1", "the API's base URL (loopback only)")
	flag.IntVar(&cfg.clients, "clients", 8, "concurrent clients (1..64)")
	flag.IntVar(&cfg.users, "users", 4, "test users the clients write as, half uce and half e2e (2..16)")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "length of the run (at most 10m)")
	flag.DurationVar(&cfg.fault, "fault", 10*time.Second, "how long Redis, S3 and the Broker stay down (at most 60s)")
	flag.DurationVar(&cfg.settle, "settle", 90*time.Second, "how long to wait for the events of the acknowledged writes after the run")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "the clients' timeout per request (logins and signups: at least 30s)")
	flag.StringVar(&faults, "faults", strings.Join(allFaults, ","), "the faults, in order: "+strings.Join(allFaults, ", "))
	flag.IntVar(&cfg.maxRequests, "max-requests", 200000, "stop the clients after this many requests")
	flag.StringVar(&cfg.trace, "trace", "", "write every request (op, start and end in seconds from the start, status) to this file, tab-separated")
	flag.Parse()
	if faults != "" {
		cfg.faults = strings.Split(faults, ",")
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func (c *config) validate() error {
	switch {
	case c.clients < 1 || c.clients > 64:
		return errors.New("-clients must be 1..64")
	case c.users < 2 || c.users > 16:
		return errors.New("-users must be 2..16")
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return errors.New("-duration must be positive and at most 10m")
	case c.fault <= 0 || c.fault > time.Minute:
		return errors.New("-fault must be positive and at most 60s")
	case c.maxRequests < 1:
		return errors.New("-max-requests must be positive")
	}
	seen := map[string]bool{}
	for _, f := range c.faults {
		if !slices.Contains(allFaults, f) || seen[f] {
			return fmt.Errorf("-faults: %q is unknown or repeated (known: %s)", f, strings.Join(allFaults, ", "))
		}
		seen[f] = true
	}
	if _, err := c.gap(); err != nil {
		return err
	}
	return checkLoopbackURL(c.api)
}

// gap is the recovery time before each fault and after the last: what the duration leaves
// after the timed faults, shared evenly.
func (c *config) gap() (time.Duration, error) {
	timed := 0
	for _, f := range c.faults {
		if f != faultPG {
			timed++
		}
	}
	gap := (c.duration - time.Duration(timed)*c.fault) / time.Duration(len(c.faults)+1)
	if gap < 3*time.Second {
		return 0, fmt.Errorf("-duration %s leaves %s between faults; it needs at least 3s (longer -duration or shorter -fault)", c.duration, gap)
	}
	return gap, nil
}

// run does the whole thing and reports whether any check failed.
func run(ctx context.Context, cfg config, out io.Writer) (bool, error) {
	hc := newHTTPClient(2, netip.Addr{})
	svcs, err := findServices(cfg.root, cfg.state, cfg.api)
	if err != nil {
		return false, err
	}
	st, err := svcs.brokerState(ctx, hc)
	if err != nil || st.Tap == "" {
		return false, fmt.Errorf("the local Broker control does not answer with a tap (%v): start scripts/dev with "+
			"LOCAL_BROKER_CONTROL=1 LOCAL_BROKER_TAP=%s/broker-tap.jsonl", err, cfg.state)
	}
	if st.Paused {
		return false, errors.New("the local Broker is paused (an earlier run interrupted?): resume it with " +
			`curl -X POST -H 'Content-Type: application/json' -d '{"paused":false}' ` + svcs.control)
	}
	svcs.tap = st.Tap
	if !filepath.IsAbs(svcs.tap) {
		svcs.tap = filepath.Join(cfg.root, svcs.tap)
	}
	tapStart := int64(0)
	if fi, err := os.Stat(svcs.tap); err == nil {
		tapStart = fi.Size()
	}
	faults, err := svcs.faults(cfg.faults, hc)
	if err != nil {
		return false, err
	}
	gap, _ := cfg.gap()

	rec := &recorder{}
	perUser := (cfg.clients + cfg.users - 1) / cfg.users
	apiFor := func(i int) *api {
		return &api{base: cfg.api, http: newHTTPClient(perUser, userSource(i)), timeout: cfg.timeout}
	}
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	users, err := loadUsers(setupCtx, apiFor, filepath.Join(cfg.state, "chaos", "users.json"), cfg.users)
	cancel()
	if err != nil {
		return false, fmt.Errorf("test users: %w", err)
	}
	for _, u := range users {
		u.api.rec = rec
	}

	fmt.Fprintf(out, "scripts/chaos: %d clients as %d users (half uce, half e2e), %s, faults %s of %s each, %s between; API %s\n",
		cfg.clients, cfg.users, cfg.duration, strings.Join(cfg.faults, ", "), cfg.fault, gap.Round(100*time.Millisecond), cfg.api)

	led := newLedger()
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	clientsCtx, stopClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range cfg.clients {
		u := users[i%len(users)]
		c := &client{id: i, user: u, s3: u.api.http, led: led, cursor: since,
			backoff: 250 * time.Millisecond, think: 10 * time.Millisecond, maxReqs: cfg.maxRequests, rec: rec}
		wg.Go(func() { c.run(clientsCtx) })
	}
	served := func(since time.Time) bool { return rec.allServedSince(since, cfg.clients) }
	phases, ferr := inject(ctx, faults, gap, cfg.fault, cfg.duration, served, out)
	stopClients()
	wg.Wait()
	if ferr != nil {
		return false, ferr
	}
	fmt.Fprintf(out, "clients stopped after %d requests; verifying\n", rec.count())

	vctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, u := range users {
		u.api.rec, u.api.timeout = nil, 30*time.Second
	}
	seen, mediaLost, err := verify(vctx, users, led, since)
	if err != nil {
		return false, err
	}
	events, err := awaitEvents(vctx, svcs.tap, tapStart, led.acks, cfg.settle)
	if err != nil {
		return false, err
	}
	verdicts := checkWrites(led.acks, led.final, seen, events)
	rows := buildRows(phases, rec.all(), led.acks, verdicts, led.badReads)
	if cfg.trace != "" {
		if err := writeTrace(cfg.trace, phases[0].start, rec.all()); err != nil {
			return false, err
		}
	}

	fmt.Fprintln(out)
	writeTable(out, rows)
	fmt.Fprintln(out)
	failed := mediaLost > 0
	fmt.Fprintf(out, "acknowledged writes: %d (%d entries); applied without an acknowledgement and found: %d; media ready: %d, lost: %d; "+
		"direct S3 requests: %d ok, %d failed\n", len(led.acks), len(led.final), led.applied, len(led.media), mediaLost, led.s3OK, led.s3Failed)
	for i, why := range led.badWhy {
		if i == 10 {
			fmt.Fprintf(out, "  ... and %d more bad reads\n", len(led.badWhy)-10)
			break
		}
		fmt.Fprintln(out, "  bad read:", why)
	}
	for _, r := range rows {
		if r.failures() > 0 || !r.recovered {
			failed = true
			fmt.Fprintf(out, "FAIL %s: %d writes lost, %d events lost, %d doubled, %d fail-open, %d bad reads, %d answers against the contract (5xx other than 503, 503 without Retry-After), recovered: %v\n",
				r.phase, r.lost, r.eventsLost, r.eventsTwice, r.failOpen, r.badReads, r.contract(), r.recovered)
		}
	}
	if !failed {
		fmt.Fprintln(out, "PASS: no acknowledged write or event lost or doubled, Redis down failed closed, every fault recovered")
	}
	return failed, nil
}

// inject runs the faults one after another, gap apart (and each once every client has been
// served again since the last, as served tells), while the clients run, and returns the
// phases. A fault's service is always brought back, also when ctx ends midway.
func inject(ctx context.Context, faults []fault, gap, hold, duration time.Duration, served func(since time.Time) bool, out io.Writer) ([]phase, error) {
	t0 := time.Now()
	phases := []phase{{name: phaseBaseline, start: t0}}
	wait := func(until time.Time) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(until)):
			return nil
		}
	}
	next := t0.Add(gap)
	for _, f := range faults {
		if err := wait(next); err != nil {
			return nil, fmt.Errorf("interrupted before %s", f.name)
		}
		p := phase{name: f.name, start: time.Now()}
		phases[len(phases)-1].end = p.start
		fmt.Fprintf(out, "%6.1fs  %s: injecting\n", p.start.Sub(t0).Seconds(), f.name)
		err := f.down(ctx)
		if err == nil && f.up != nil {
			if f.name == faultRedis {
				p.closedFrom = time.Now()
			}
			err = wait(time.Now().Add(hold))
			p.closedTo = time.Now()
		}
		if f.up != nil {
			// Whatever happened, bring the service back.
			upCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			if uerr := f.up(upCtx); uerr != nil {
				err = errors.Join(err, fmt.Errorf("%s: bringing it back: %w", f.name, uerr))
			}
			cancel()
		}
		if f.name != faultRedis {
			p.closedFrom, p.closedTo = time.Time{}, time.Time{}
		}
		p.faultEnd = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted during %s: %w", f.name, err)
			}
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		fmt.Fprintf(out, "%6.1fs  %s: over after %s\n", p.faultEnd.Sub(t0).Seconds(), f.name, p.faultEnd.Sub(p.start).Round(10*time.Millisecond))
		phases = append(phases, p)
		// The next fault waits out the gap, and for every client to be served again (a
		// login storm after the Redis stop can outlast the gap), at most a minute.
		next = p.faultEnd.Add(gap)
		for limit := p.faultEnd.Add(time.Minute); time.Now().Before(limit) && !served(p.faultEnd); {
			if err := wait(time.Now().Add(200 * time.Millisecond)); err != nil {
				return nil, errors.New("interrupted")
			}
		}
		if now := time.Now(); now.After(next) {
			fmt.Fprintf(out, "%6.1fs  every client served again; the next fault waited for it\n", now.Sub(t0).Seconds())
			next = now.Add(time.Second)
		}
	}
	end := t0.Add(duration)
	if next.After(end) {
		end = next
	}
	if err := wait(end); err != nil {
		return nil, errors.New("interrupted")
	}
	phases[len(phases)-1].end = time.Now()
	return phases, nil
}

// verify reads back, with the services up again, every entry the clients wrote, its
// history and each user's sync feed since the run began, and the media that reached ready.
func verify(ctx context.Context, users []*user, led *ledger, since string) (map[string]observed, int, error) {
	for _, u := range users {
		if err := retry(ctx, func() error { _, g := u.token(); return u.relogin(ctx, g) }); err != nil {
			return nil, 0, fmt.Errorf("verify: log in %s: %w", u.Email, err)
		}
	}
	byEmail := map[string]*user{}
	for _, u := range users {
		byEmail[u.Email] = u
	}
	get := func(u *user, path string, v any) (int, error) {
		var status int
		err := retry(ctx, func() error {
			tok, _ := u.token()
			ans, err := u.api.call(ctx, "", http.MethodGet, path, tok, nil, nil)
			if err != nil {
				return err
			}
			status = ans.status
			if ans.status == http.StatusNotFound {
				return nil
			}
			if !ans.ok() {
				return &statusError{ans.status}
			}
			return ans.decode(v)
		})
		return status, err
	}
	seen := map[string]observed{}
	for id, st := range led.final {
		u := byEmail[st.user]
		var e entryView
		status, err := get(u, "/entries/"+id, &e)
		if err != nil {
			return nil, 0, fmt.Errorf("verify: entry %s: %w", id, err)
		}
		o := observed{found: status == http.StatusOK, version: e.Version, body: e.body()}
		var h struct {
			Items []struct {
				Version int `json:"version"`
			} `json:"items"`
		}
		if _, err := get(u, "/entries/"+id+"/history", &h); err != nil {
			return nil, 0, fmt.Errorf("verify: history of %s: %w", id, err)
		}
		for _, it := range h.Items {
			o.history = append(o.history, it.Version)
		}
		seen[id] = o
	}
	for _, u := range users {
		cursor := url.QueryEscape(since)
		for {
			var page struct {
				Items []struct {
					ID      string `json:"id"`
					Version int    `json:"version"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if _, err := get(u, "/entries?limit=100&updated_since="+cursor, &page); err != nil {
				return nil, 0, fmt.Errorf("verify: sync feed of %s: %w", u.Email, err)
			}
			for _, it := range page.Items {
				if o, ok := seen[it.ID]; ok {
					o.inFeed, o.feedVers = true, max(o.feedVers, it.Version)
					seen[it.ID] = o
				}
			}
			if page.NextCursor == nil {
				break
			}
			cursor = url.QueryEscape(*page.NextCursor)
		}
	}
	lost := 0
	for id, m := range led.media {
		var got struct {
			Status string `json:"status"`
			SHA256 string `json:"sha256"`
		}
		if status, err := get(byEmail[m.user], "/media/"+id, &got); err != nil {
			return nil, 0, fmt.Errorf("verify: media %s: %w", id, err)
		} else if status != http.StatusOK || got.Status != "ready" || got.SHA256 != m.sha {
			lost++
		}
	}
	return seen, lost, nil
}

// retry runs fn until it succeeds, a few times a second, for at most a minute.
func retry(ctx context.Context, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// awaitEvents reads the Broker tap from offset until every acknowledged write has an
// entry.changed (or settle has passed), then a little longer for late doubles.
func awaitEvents(ctx context.Context, tap string, offset int64, acks []ack, settle time.Duration) ([]tapEvent, error) {
	type key struct {
		entry   string
		version int
	}
	want := map[key]bool{}
	for _, a := range acks {
		want[key{a.entryID, a.version}] = true
	}
	deadline := time.Now().Add(settle)
	for {
		events, err := readTap(tap, offset)
		if err != nil {
			return nil, err
		}
		missing := len(want)
		got := map[key]bool{}
		for _, e := range events {
			k := key{e.entryID, e.version}
			if want[k] && !got[k] {
				got[k] = true
				missing--
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			if missing == 0 {
				time.Sleep(2 * time.Second) // a redelivery or a second id arrives late
				return readTap(tap, offset)
			}
			return events, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readTap parses the entry.changed lines of the tap from offset.
func readTap(file string, offset int64) ([]tapEvent, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("broker tap: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return parseTap(f)
}

// parseTap reads tap lines (cmd/diary's devbroker.go) and keeps the entry.changed ones.
func parseTap(r io.Reader) ([]tapEvent, error) {
	var out []tapEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				EntryID string `json:"entry_id"`
				Version int    `json:"version"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // a line cut short by a write in progress: read again next time
		}
		if l.Type == typeEntryChanged {
			out = append(out, tapEvent{id: l.ID, entryID: l.Data.EntryID, version: l.Data.Version})
		}
	}
	return out, sc.Err()
}

// typeEntryChanged is eventing.TypeEntryChanged (this tool links nothing of the project).
const typeEntryChanged = "com.xmojo.diary.entry.changed"

// writeTrace writes every request as a tab-separated line, for a closer look at a fault.
func writeTrace(file string, t0 time.Time, reqs []request) error {
	var b strings.Builder
	b.WriteString("client\top\tstart_s\tend_s\tstatus\tretry_after\tconnect_ms\tfirst_byte_ms\n")
	for _, r := range reqs {
		fmt.Fprintf(&b, "%d\t%s\t%.3f\t%.3f\t%d\t%v\t%d\t%d\n", r.client, r.op, r.start.Sub(t0).Seconds(), r.end.Sub(t0).Seconds(), r.status, r.retryAfter,
			r.connect.Milliseconds(), r.wait.Milliseconds())
	}
	return os.WriteFile(file, []byte(b.String()), 0o600)
}
