// Command slowclients attacks a running API server on loopback with slow and large clients
// while a well-behaved client measures what the server still does for everyone else.
// scripts/slowclients runs it against cmd/diary (scripts/dev) and one function served
// alone by shared/host.
//
//	slowclients -api URL -target NAME=URL [-target NAME=URL ...] [flags]
//
// -api is where a user is signed up (the auth group: cmd/diary); each -target is attacked in
// turn, its server process found by the port it listens on (or -pid NAME=PID). For each
// target it runs a quiet baseline and then each attack for -duration:
//
//   - slowloris: -slowloris connections each trickle one header line per -trickle, never
//     ending the headers; a connection the server closes is opened again;
//   - slow body: -slowbody connections each send a whole POST /api/v1/entries header block
//     (a valid token, Content-Length: -body-size) and then trickle the body a byte per
//     -trickle;
//   - huge header: -oversized clients in a loop send a GET whose one header line is
//     -header-size bytes;
//   - many headers: the same with -header-count short headers;
//   - idle keep-alive: -idle connections each make one request and then sit idle on the
//     kept-alive connection.
//
// All the while a well-behaved client GETs one entry of its own every -probe-interval, on
// a new connection each time (the accept path is what a flood of connections contends
// for), and a sampler reads the server's VmRSS and VmHWM from /proc/<pid>/status (VmHWM is
// reset at the start of each phase through /proc/<pid>/clear_refs when allowed) and its
// go_goroutines from -metrics NAME=URL when given. It prints one row per phase.
//
// Every number is bounded: each attack lasts -duration and opens at most -max-opened
// connections; targets must be loopback addresses. RLIMIT_NOFILE is raised to hold the
// connections (as root the hard limit too).
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// settings are the command's flags.
type settings struct {
	api           string
	duration      time.Duration
	settle        time.Duration
	trickle       time.Duration
	probeInterval time.Duration
	slowloris     int
	slowbody      int
	bodySize      int
	oversized     int
	headerSize    int
	headerCount   int
	idle          int
	maxOpened     int
	only          string
}

// target is one server under attack.
type target struct {
	name    string
	base    *url.URL
	addr    string // host:port
	pid     int
	metrics string
}

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }
func (p pairs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return errors.New("want NAME=VALUE")
	}
	p[k] = val
	return nil
}

func main() {
	var s settings
	targets, pids, metrics := pairs{}, pairs{}, pairs{}
	var order []string
	flag.StringVar(&s.api, "api", "", "base URL of the auth group, for the signup (cmd/diary)")
	flag.Func("target", "NAME=URL of a server to attack (repeatable)", func(v string) error {
		if err := targets.Set(v); err != nil {
			return err
		}
		order = append(order, strings.SplitN(v, "=", 2)[0])
		return nil
	})
	flag.Var(pids, "pid", "NAME=PID of a target's server (default: found by its listening port)")
	flag.Var(metrics, "metrics", "NAME=URL of a target's Prometheus /metrics, for go_goroutines")
	flag.DurationVar(&s.duration, "duration", 30*time.Second, "how long each attack lasts")
	flag.DurationVar(&s.settle, "settle", 5*time.Second, "quiet time before and after each attack")
	flag.DurationVar(&s.trickle, "trickle", time.Second, "pause between the bytes a slow client sends")
	flag.DurationVar(&s.probeInterval, "probe-interval", 100*time.Millisecond, "pause between the well-behaved client's requests")
	flag.IntVar(&s.slowloris, "slowloris", 2000, "slowloris connections held open")
	flag.IntVar(&s.slowbody, "slowbody", 1000, "slow-body connections held open")
	flag.IntVar(&s.bodySize, "body-size", 64<<10, "Content-Length the slow bodies declare")
	flag.IntVar(&s.oversized, "oversized", 50, "clients sending oversized headers at once")
	flag.IntVar(&s.headerSize, "header-size", 900<<10, "bytes of the one huge header line")
	flag.IntVar(&s.headerCount, "header-count", 20000, "headers of the many-headers request")
	flag.IntVar(&s.idle, "idle", 10000, "idle keep-alive connections")
	flag.IntVar(&s.maxOpened, "max-opened", 50000, "connections one attack may open in all")
	flag.StringVar(&s.only, "only", "", "comma-separated attacks to run (default all): slowloris,slowbody,hugeheader,manyheaders,idle")
	flag.Parse()
	if s.api == "" || len(order) == 0 {
		fmt.Fprintln(os.Stderr, "usage: slowclients -api URL -target NAME=URL [-target NAME=URL ...]")
		os.Exit(2)
	}
	if err := run(s, order, targets, pids, metrics); err != nil {
		fmt.Fprintln(os.Stderr, "slowclients:", err)
		os.Exit(1)
	}
}

func run(s settings, order []string, rawTargets, pids, metrics pairs) error {
	if _, err := loopbackURL(s.api); err != nil {
		return fmt.Errorf("-api: %w", err)
	}
	var targets []*target
	for _, name := range order {
		u, err := loopbackURL(rawTargets[name])
		if err != nil {
			return fmt.Errorf("-target %s: %w", name, err)
		}
		t := &target{name: name, base: u, addr: u.Host, metrics: metrics[name]}
		if m := t.metrics; m != "" {
			if _, err := loopbackURL(m); err != nil {
				return fmt.Errorf("-metrics %s: %w", name, err)
			}
		}
		if p := pids[name]; p != "" {
			if _, err := fmt.Sscan(p, &t.pid); err != nil {
				return fmt.Errorf("-pid %s: %w", name, err)
			}
		} else if t.pid, err = listenerPID(u.Port()); err != nil {
			return fmt.Errorf("-target %s: %w", name, err)
		}
		targets = append(targets, t)
	}
	limit, err := raiseFileLimit(uint64(s.idle + s.slowloris + s.slowbody + 4096))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "slowclients: RLIMIT_NOFILE %d\n", limit)

	user, err := signup(s.api)
	if err != nil {
		return err
	}
	var rows []row
	for _, t := range targets {
		entry, err := user.createEntry(t.base.String())
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		for _, a := range attacks(s, user.token) {
			if s.only != "" && a.name != "baseline" && !containsWord(s.only, a.key) {
				continue
			}
			fmt.Fprintf(os.Stderr, "slowclients: %s: %s\n", t.name, a.name)
			rows = append(rows, runPhase(s, t, user.token, entry, a))
		}
	}
	printTable(os.Stdout, rows)
	return nil
}

func containsWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == w {
			return true
		}
	}
	return false
}

// loopbackURL parses raw and refuses any host that is not a loopback address: the tool
// attacks only this machine.
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return nil, errors.New("want http://HOST:PORT")
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s is not a loopback address", u.Hostname())
	}
	return u, nil
}

// raiseFileLimit makes room for want open files, raising the hard limit too when allowed
// (root), and returns the soft limit in force.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	next := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
		next = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	if next.Cur < want {
		fmt.Fprintf(os.Stderr, "slowclients: warning: only %d open files allowed, %d wanted\n", next.Cur, want)
	}
	return next.Cur, nil
}
