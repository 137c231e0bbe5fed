package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewServerTimeouts(t *testing.T) {
	srv := NewServer("127.0.0.1:0", http.NotFoundHandler())
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, ReadHeaderTimeout},
		{"ReadTimeout", srv.ReadTimeout, ReadTimeout},
		{"WriteTimeout", srv.WriteTimeout, WriteTimeout},
		{"IdleTimeout", srv.IdleTimeout, IdleTimeout},
	} {
		if c.got != c.want || c.got <= 0 {
			t.Errorf("NewServer().%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The limits hold what they are sized for: the largest body on the slow link fits in
	// ReadTimeout, and a request that reads one and answers with one as large fits in
	// WriteTimeout with a minute left for the handler.
	transfer := time.Duration(LargestBodyBytes) * time.Second / SlowLinkBytesPerSecond
	if transfer+ReadHeaderTimeout > ReadTimeout {
		t.Errorf("ReadTimeout %v is shorter than %d bytes at %d B/s (%v) plus the headers", ReadTimeout, LargestBodyBytes, SlowLinkBytesPerSecond, transfer)
	}
	if got := BodyReadTimeout(LargestBodyBytes); got < transfer {
		t.Errorf("BodyReadTimeout(%d) = %v, shorter than the body at %d B/s (%v)", LargestBodyBytes, got, SlowLinkBytesPerSecond, transfer)
	}
	if 2*transfer+time.Minute > WriteTimeout {
		t.Errorf("WriteTimeout %v cannot read and answer %d bytes at %d B/s (2 x %v) plus a minute of work", WriteTimeout, LargestBodyBytes, SlowLinkBytesPerSecond, transfer)
	}
}

// preparedListener hands out one connection whose client side has already sent the
// request's headers, so the server reads them at once; only the body is left to trickle.
type preparedListener struct {
	conns chan net.Conn
	addr  net.Addr
	once  sync.Once
}

func (l *preparedListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *preparedListener) Close() error   { l.once.Do(func() { close(l.conns) }); return nil }
func (l *preparedListener) Addr() net.Addr { return l.addr }

// TestSlowBodyIsCutOff: a client that sends its body one byte at a time, never finishing
// it, is cut off by ReadTimeout, counted from the start of the request: the trickle does
// not keep the connection alive. The only way the handler's read ends is the deadline, so
// the test cannot pass or fail by timing; ReadTimeout is made tiny to keep it quick.
func TestSlowBodyIsCutOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	serverSide, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(client, "POST /api/v1/entries HTTP/1.1\r\nHost: diary.test\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}

	readErr := make(chan error, 1)
	srv := NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	srv.ReadTimeout = 200 * time.Millisecond
	pl := &preparedListener{conns: make(chan net.Conn, 1), addr: ln.Addr()}
	pl.conns <- serverSide
	go func() { _ = srv.Serve(pl) }()
	defer srv.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the trickle: one byte every 20 ms until the connection is gone
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := io.WriteString(client, " "); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	select {
	case err := <-readErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("reading the trickled body = %v, want a timeout", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the trickled body was still being read after a minute")
	}
	// The server gives up the connection: the client reads an answer or the end.
	_ = client.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadAll(bufio.NewReader(client)); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("after the timeout the client read %v, want the connection closed", err)
	}
}

// deadlineWriter is a ResponseWriter that records the deadlines set on it, as the
// connection under http.ResponseController would.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	read, write []time.Time
}

func (d *deadlineWriter) SetReadDeadline(t time.Time) error { d.read = append(d.read, t); return nil }
func (d *deadlineWriter) SetWriteDeadline(t time.Time) error {
	d.write = append(d.write, t)
	return nil
}

// TestObserveAppliesDeadlines: every request gets the project's read and write deadlines
// from Observe (so they hold under func-go's 30-second server too): a read deadline its
// body needs, lifted once the body has been read to its end (or at once without a body, so
// net/http's background read cannot cancel a long handler's context), and WriteTimeout,
// which a handler behind Observe can move, as a streaming answer does.
func TestObserveAppliesDeadlines(t *testing.T) {
	streamUntil := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := Observe(nil, "test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("read") {
			if _, err := io.ReadAll(r.Body); err != nil {
				t.Errorf("reading the body: %v", err)
			}
		}
		if err := http.NewResponseController(w).SetWriteDeadline(streamUntil); err != nil {
			t.Errorf("SetWriteDeadline behind Observe = %v, want nil", err)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	body := BodyReadTimeout(2)
	for _, c := range []struct {
		name, method, target string
		body                 io.Reader
		wantRead             []time.Duration // from the start; -1: lifted (the zero time)
	}{
		{"body not read", http.MethodPost, "/api/v1/entries", strings.NewReader("{}"), []time.Duration{body}},
		{"body read", http.MethodPost, "/api/v1/entries?read", strings.NewReader("{}"), []time.Duration{body, -1}},
		{"no body", http.MethodGet, "/api/v1/entries", nil, []time.Duration{-1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
			before := time.Now()
			h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, c.body))
			after := time.Now()

			within := func(got time.Time, d time.Duration) bool {
				if d < 0 {
					return got.IsZero()
				}
				return !got.Before(before.Add(d)) && !got.After(after.Add(d))
			}
			ok := len(w.read) == len(c.wantRead)
			for i := 0; ok && i < len(w.read); i++ {
				ok = within(w.read[i], c.wantRead[i])
			}
			if !ok {
				t.Errorf("read deadlines = %v, want %v from the request's start (-1: lifted)", w.read, c.wantRead)
			}
			if len(w.write) != 2 || !within(w.write[0], WriteTimeout) || !w.write[1].Equal(streamUntil) {
				t.Errorf("write deadlines = %v, want WriteTimeout (%v) from the start, then the handler's %v", w.write, WriteTimeout, streamUntil)
			}
		})
	}
}

// TestNoStore: every answer through Observe, and every error through Fail, says
// Cache-Control: no-store, exactly once, whatever the handler did.
func TestNoStore(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"json answer", func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusCreated, map[string]string{"access_token": "t"})
		}},
		{"error", func(w http.ResponseWriter, r *http.Request) { Fail(w, r, ErrUnauthorized) }},
		{"no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}},
		{"body without WriteHeader", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "x") }},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") }},
		{"handler tries to allow caching", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.WriteHeader(http.StatusOK)
		}},
		{"proxied answer adds its own", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Cache-Control", "private")
			_, _ = io.WriteString(w, "{}")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Observe(nil, "test", tt.handler))
			defer srv.Close()
			res, err := http.Get(srv.URL + "/api/v1/anything")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
				t.Errorf("Cache-Control = %q, want [no-store]", got)
			}
		})
	}
	t.Run("Fail outside Observe", func(t *testing.T) {
		rec := httptest.NewRecorder()
		Fail(rec, httptest.NewRequest(http.MethodGet, "/api/v1/entries", nil), Unavailable("starting"))
		if got := rec.Result().Header.Values("Cache-Control"); fmt.Sprint(got) != "[no-store]" {
			t.Errorf("Cache-Control = %q, want [no-store]", got)
		}
	})
}
