package httpapi

import (
	"net"
	"net/http"
	"sync"
)

// connLimiter bounds the connections a server holds, as its ConnState hook. Past the
// bound, a new connection closes the connection that has waited longest without a request
// in progress: an idle kept-alive one, or one that has not finished sending its headers (a
// slowloris client; a real client sends its headers at once). So a flood of idle or
// trickling connections cannot starve new clients, and the memory they hold stays bounded
// (about 11 KiB each while idle). Connections serving a request are never closed; if every
// connection is, the new one is refused (closed at once), and the server's read deadlines
// free a place soon. Waiting is counted in state changes, not time, so the order is exact.
type connLimiter struct {
	max   int
	mu    sync.Mutex
	seq   uint64
	conns map[net.Conn]connEntry
}

// connEntry is a connection's state and when (in state changes) it entered it.
type connEntry struct {
	state http.ConnState
	since uint64
}

func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, conns: make(map[net.Conn]connEntry)}
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	switch state {
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, c)
		return
	case http.StateActive, http.StateIdle:
		if _, ok := l.conns[c]; ok {
			l.conns[c] = connEntry{state: state, since: l.seq}
		}
		return
	}
	// StateNew.
	if len(l.conns) >= l.max {
		victim, found := l.longestWaiting()
		if !found {
			_ = c.Close()
			return
		}
		delete(l.conns, victim)
		_ = victim.Close()
	}
	l.conns[c] = connEntry{state: state, since: l.seq}
}

// longestWaiting finds the connection without a request in progress that has waited
// longest. The scan runs only when the server is full.
func (l *connLimiter) longestWaiting() (net.Conn, bool) {
	var (
		victim net.Conn
		oldest uint64
	)
	for c, e := range l.conns {
		if e.state == http.StateActive {
			continue
		}
		if victim == nil || e.since < oldest {
			victim, oldest = c, e.since
		}
	}
	return victim, victim != nil
}
