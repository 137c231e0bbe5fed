package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// attack is one kind of hostile client, run by conns workers at once.
type attack struct {
	key, name string
	conns     int
	duration  time.Duration
	// reopen: a worker whose connection ended opens another until the attack ends.
	reopen bool
	// conn plays one connection until end; it returns what the server did with it and
	// how long the connection had lived when it did.
	conn func(c net.Conn, end time.Time) (outcome string, lived time.Duration)
}

func attacks(s settings, token string) []attack {
	host := "Host: 127.0.0.1\r\n"
	slowBodyHead := "POST /api/v1/entries HTTP/1.1\r\n" + host + "Authorization: Bearer " + token + "\r\n" +
		"Content-Type: application/json\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n{", s.bodySize)
	huge := "GET /api/v1/entries HTTP/1.1\r\n" + host + "Authorization: Bearer " + token + "\r\n" +
		"X-Huge: " + strings.Repeat("a", s.headerSize) + "\r\n\r\n"
	var many strings.Builder
	many.WriteString("GET /api/v1/entries HTTP/1.1\r\n" + host + "Authorization: Bearer " + token + "\r\n")
	for i := range s.headerCount {
		fmt.Fprintf(&many, "X-Many-%d: vvvvvvvvvvvvvvvv\r\n", i)
	}
	many.WriteString("\r\n")
	return []attack{
		{key: "baseline", name: "baseline", duration: s.duration / 3},
		{key: "slowloris", name: "slowloris headers", conns: s.slowloris, duration: s.duration, reopen: true,
			conn: func(c net.Conn, end time.Time) (string, time.Duration) {
				return trickle(c, "GET /api/v1/entries HTTP/1.1\r\n"+host, headerStream(), s.trickle, end)
			}},
		{key: "slowbody", name: "slow bodies", conns: s.slowbody, duration: s.duration, reopen: true,
			conn: func(c net.Conn, end time.Time) (string, time.Duration) {
				return trickle(c, slowBodyHead, func() byte { return ' ' }, s.trickle, end)
			}},
		{key: "hugeheader", name: fmt.Sprintf("huge header (%d KiB line)", s.headerSize>>10), conns: s.oversized, duration: s.duration, reopen: true,
			conn: func(c net.Conn, end time.Time) (string, time.Duration) { return oneShot(c, huge, end) }},
		{key: "manyheaders", name: fmt.Sprintf("many headers (%d)", s.headerCount), conns: s.oversized, duration: s.duration, reopen: true,
			conn: func(c net.Conn, end time.Time) (string, time.Duration) { return oneShot(c, many.String(), end) }},
		{key: "idle", name: "idle keep-alive", conns: s.idle, duration: s.duration,
			conn: func(c net.Conn, end time.Time) (string, time.Duration) { return idle(c, host, end) }},
	}
}

// headerStream returns the bytes of an endless run of header lines, one at a time.
func headerStream() func() byte {
	var line []byte
	n := 0
	return func() byte {
		if len(line) == 0 {
			n++
			line = fmt.Appendf(nil, "X-Slow-%d: %d\r\n", n, n)
		}
		b := line[0]
		line = line[1:]
		return b
	}
}

// trickle sends first and then one byte of next every pause, until the server answers
// or closes the connection, or end comes.
func trickle(c net.Conn, first string, next func() byte, pause time.Duration, end time.Time) (string, time.Duration) {
	start := time.Now()
	if _, err := io.WriteString(c, first); err != nil {
		return "closed before the trickle", time.Since(start)
	}
	buf := make([]byte, 512)
	for {
		_ = c.SetReadDeadline(minTime(time.Now().Add(pause), end))
		n, err := c.Read(buf)
		if n > 0 {
			return answered(buf[:n]), time.Since(start)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if !time.Now().Before(end) {
				return "open at the end", time.Since(start)
			}
			if _, err := c.Write([]byte{next()}); err != nil {
				return "closed, no answer", time.Since(start)
			}
			continue
		}
		return "closed, no answer", time.Since(start)
	}
}

// answered names the status line at the start of b.
func answered(b []byte) string {
	f := strings.Fields(string(b))
	if len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
		return "answered " + f[1]
	}
	return "answered garbage"
}

// oneShot sends req (while reading, since the server may answer before it has all of it)
// and reports the answer's status.
func oneShot(c net.Conn, req string, end time.Time) (string, time.Duration) {
	start := time.Now()
	go func() { _, _ = io.WriteString(c, req) }()
	_ = c.SetReadDeadline(minTime(time.Now().Add(30*time.Second), end))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "no answer at the end", time.Since(start)
		}
		return "closed, no answer", time.Since(start)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return "answered " + fmt.Sprint(res.StatusCode), time.Since(start)
}

// idle makes one request on c, then keeps the connection open and silent until end or the
// server closes it; the time reported is the idle time.
func idle(c net.Conn, host string, end time.Time) (string, time.Duration) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /health/liveness HTTP/1.1\r\n"+host+"\r\n"); err != nil {
		return "closed before the request", 0
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no answer to the request", 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Sprintf("request answered %d", res.StatusCode), 0
	}
	start := time.Now()
	_ = c.SetDeadline(end)
	_, err = br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "open at the end", time.Since(start)
	}
	return "closed while idle", time.Since(start)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// tally counts the outcomes of an attack's connections.
type tally struct {
	mu       sync.Mutex
	outcomes map[string][]time.Duration
	opened   atomic.Int64
	open     atomic.Int64
	peakOpen atomic.Int64
}

func (t *tally) add(outcome string, lived time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.outcomes == nil {
		t.outcomes = map[string][]time.Duration{}
	}
	t.outcomes[outcome] = append(t.outcomes[outcome], lived)
}

// runAttack runs a's workers against addr until a.duration has passed and they are done.
func runAttack(a attack, addr string, maxOpened int, t *tally) {
	end := time.Now().Add(a.duration)
	if a.conn == nil {
		time.Sleep(a.duration)
		return
	}
	dialing := make(chan struct{}, 256) // connections being set up at once
	var wg sync.WaitGroup
	for range a.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && t.opened.Add(1) <= int64(maxOpened) {
				dialing <- struct{}{}
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				<-dialing
				if err != nil {
					t.add("dial failed", 0)
					if errors.Is(err, syscall.EMFILE) {
						fmt.Fprintln(os.Stderr, "slowclients: out of file descriptors")
					}
					time.Sleep(100 * time.Millisecond)
				} else {
					n := t.open.Add(1)
					for p := t.peakOpen.Load(); n > p && !t.peakOpen.CompareAndSwap(p, n); p = t.peakOpen.Load() {
					}
					outcome, lived := a.conn(c, end)
					c.Close()
					t.open.Add(-1)
					t.add(outcome, lived)
				}
				if !a.reopen {
					return
				}
			}
		}()
	}
	wg.Wait()
}
