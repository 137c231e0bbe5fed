package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadServerLimits(t *testing.T) {
	got, err := LoadServerLimits(map[string]string{})
	if err != nil || got != DefaultServerLimits() {
		t.Errorf("LoadServerLimits(no variables) = %+v, %v, want %+v (the constants)", got, err, DefaultServerLimits())
	}
	got, err = LoadServerLimits(map[string]string{"HTTP_READ_HEADER_TIMEOUT": "2s", "HTTP_IDLE_TIMEOUT": "1m",
		"HTTP_MAX_HEADER_BYTES": "65536", "HTTP_MAX_CONNECTIONS": "0"})
	want := ServerLimits{ReadHeaderTimeout: 2 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	if err != nil || got != want {
		t.Errorf("LoadServerLimits(set) = %+v, %v, want %+v", got, err, want)
	}
	for _, bad := range []struct{ name, value string }{
		{"HTTP_READ_HEADER_TIMEOUT", "0s"},
		{"HTTP_READ_HEADER_TIMEOUT", "1h"},
		{"HTTP_IDLE_TIMEOUT", "-1s"},
		{"HTTP_MAX_HEADER_BYTES", "100"},
		{"HTTP_MAX_HEADER_BYTES", "big"},
		{"HTTP_MAX_CONNECTIONS", "-1"},
	} {
		_, err := LoadServerLimits(map[string]string{bad.name: bad.value})
		if err == nil || !strings.Contains(err.Error(), bad.name) || strings.Contains(err.Error(), "="+bad.value) {
			t.Errorf("LoadServerLimits(%s=%s) = %v, want an error naming the variable", bad.name, bad.value, err)
		}
	}
}

func TestBodyReadTimeout(t *testing.T) {
	for _, c := range []struct {
		length int64
		want   time.Duration
	}{
		{0, BodyGrace},
		{16_000, BodyGrace + time.Second},
		{64 << 10, BodyGrace + time.Duration(64<<10)*time.Second/SlowLinkBytesPerSecond},
		{-1, ReadTimeout},
		{LargestBodyBytes + 1, ReadTimeout},
	} {
		if got := BodyReadTimeout(c.length); got != c.want || got > ReadTimeout {
			t.Errorf("BodyReadTimeout(%d) = %v, want %v", c.length, got, c.want)
		}
	}
}

// serve runs srv on a loopback listener until the test ends and returns its address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readUntilClosed reads c until the server closes it and returns what it answered. The
// deadline only keeps a broken server from hanging the test.
func readUntilClosed(t *testing.T, c net.Conn, what string) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the connection was still open after a minute", what)
	}
	return string(b)
}

// wantClosedSilently reads c until the server closes it and fails if it answered anything.
func wantClosedSilently(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if b := readUntilClosed(t, c, what); b != "" {
		t.Errorf("%s: the server answered %q, want the connection closed without an answer", what, b)
	}
}

// TestSlowHeadersAreClosed: a connection that sent half its headers is closed once
// ReadHeaderTimeout passes, however it trickles; the test waits for the close, not for a
// time.
func TestSlowHeadersAreClosed(t *testing.T) {
	limits := DefaultServerLimits()
	limits.ReadHeaderTimeout = time.Second
	addr := serve(t, limits.NewServer("", http.NotFoundHandler()))
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET /api/v1/entries HTTP/1.1\r\nHost: diary.test\r\nAuthor"); err != nil {
		t.Fatal(err)
	}
	// net/http closes it, after a 400 when the deadline fell inside a header line.
	if b := readUntilClosed(t, c, "half a header"); b != "" && !strings.HasPrefix(b, "HTTP/1.1 400 ") {
		t.Errorf("half a header: the server answered %q, want the connection closed (with at most a 400)", b)
	}
}

// TestOversizedHeaders: a request line and headers over MaxHeaderBytes, as one huge line
// or as many small headers, get 431; one under it is served.
func TestOversizedHeaders(t *testing.T) {
	limits := DefaultServerLimits()
	limits.MaxHeaderBytes = 4 << 10
	srv := limits.NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	addr := serve(t, srv)
	// net/http allows 4 KiB past MaxHeaderBytes, so "over" means past both.
	over := limits.MaxHeaderBytes + 4096 + 1
	var many strings.Builder
	for i := 0; many.Len() < over; i++ {
		fmt.Fprintf(&many, "X-Many-%d: v\r\n", i)
	}
	for _, c := range []struct {
		name    string
		headers string
		want    int
	}{
		{"small", "X-Small: v\r\n", http.StatusNoContent},
		{"huge line", "X-Huge: " + strings.Repeat("a", over) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"many headers", many.String(), http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, addr)
			go func() {
				_, _ = io.WriteString(conn, "GET /api/v1/entries HTTP/1.1\r\nHost: diary.test\r\n"+c.headers+"\r\n")
			}()
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != c.want {
				t.Errorf("status = %d, want %d", res.StatusCode, c.want)
			}
		})
	}
}

// TestBodyOverLargestGets413: Observe refuses a body over LargestBodyBytes with a 413 in the
// API error shape, before the handler runs when the length is declared, and when it is not
// as soon as the handler reads past the bound, whatever limit the handler asked for.
func TestBodyOverLargestGets413(t *testing.T) {
	srv := NewServer("", Observe(nil, "test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := DecodeJSON(w, r, &v, 4*LargestBodyBytes); err != nil {
			Fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	addr := serve(t, srv)
	big := `{"a":"` + strings.Repeat("a", LargestBodyBytes) + `"}`
	for _, c := range []struct {
		name    string
		chunked bool
	}{{"declared", false}, {"chunked", true}} {
		t.Run(c.name, func(t *testing.T) {
			// On a raw connection, reading while writing: the server answers before it has
			// the whole body, and a client library may lose that answer to the close.
			conn := dial(t, addr)
			head := "POST /api/v1/entries HTTP/1.1\r\nHost: diary.test\r\nContent-Type: application/json\r\n"
			if c.chunked {
				go func() {
					if _, err := io.WriteString(conn, head+"Transfer-Encoding: chunked\r\n\r\n"); err != nil {
						return
					}
					for i := 0; i < len(big); i += 64 << 10 {
						chunk := big[i:min(i+64<<10, len(big))]
						if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
							return
						}
					}
					_, _ = io.WriteString(conn, "0\r\n\r\n")
				}()
			} else { // the length alone: the answer must come without the body
				if _, err := fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n", head, len(big)); err != nil {
					t.Fatal(err)
				}
			}
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			defer res.Body.Close()
			var body struct{ Detail, Code string }
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusRequestEntityTooLarge || body.Code != "body_too_large" || body.Detail == "" {
				t.Errorf("POST %d bytes = %d %+v, want 413 body_too_large", len(big), res.StatusCode, body)
			}
		})
	}
}

// timeoutReader fails as a connection whose read deadline passed.
type timeoutReader struct{}

func (timeoutReader) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

// TestDecodeJSONTimeout: a body that stops arriving before its read deadline
// (BodyReadTimeout) answers 408 request_timeout, not a 400 about its JSON.
func TestDecodeJSONTimeout(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/entries", io.MultiReader(strings.NewReader(`{"a":`), timeoutReader{}))
	r.Header.Set("Content-Type", "application/json")
	var v map[string]any
	err := DecodeJSON(httptest.NewRecorder(), r, &v, 0)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusRequestTimeout || e.Code != "request_timeout" {
		t.Errorf("DecodeJSON(body that times out) = %v, want 408 request_timeout", err)
	}
}

// TestConnectionBound: past MaxConnections a new connection closes the one that has waited
// longest without a request in progress (a connection that never sent its headers, or an
// idle one), never one whose request is being served, and is itself served.
func TestConnectionBound(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	})
	get := func(t *testing.T, c net.Conn, path string) *http.Response {
		t.Helper()
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: diary.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		res.Body.Close()
		return res
	}

	t.Run("silent connections", func(t *testing.T) {
		limits := DefaultServerLimits()
		limits.MaxConnections = 2
		// Only the bound closes connections here, however slow the machine.
		limits.ReadHeaderTimeout, limits.IdleTimeout = time.Minute, time.Minute
		addr := serve(t, limits.NewServer("", handler))
		first, second := dial(t, addr), dial(t, addr)
		third := dial(t, addr)
		if res := get(t, third, "/"); res.StatusCode != http.StatusNoContent {
			t.Errorf("the new connection's GET = %d, want 204", res.StatusCode)
		}
		wantClosedSilently(t, first, "the oldest silent connection")
		if res := get(t, second, "/"); res.StatusCode != http.StatusNoContent {
			t.Errorf("the second connection's GET = %d, want 204 (it was not the oldest)", res.StatusCode)
		}
	})

	t.Run("a request in progress is kept", func(t *testing.T) {
		limits := DefaultServerLimits()
		limits.MaxConnections = 2
		// Only the bound closes connections here, however slow the machine.
		limits.ReadHeaderTimeout, limits.IdleTimeout = time.Minute, time.Minute
		srv := limits.NewServer("", handler)
		// The server marks a connection idle only after the answer has left, so the test
		// waits for that before it opens the next one.
		bound, idled := srv.ConnState, make(chan struct{}, 1)
		srv.ConnState = func(c net.Conn, s http.ConnState) {
			bound(c, s)
			if s == http.StateIdle {
				select {
				case idled <- struct{}{}:
				default:
				}
			}
		}
		addr := serve(t, srv)
		busy := dial(t, addr)
		busyRes := make(chan *http.Response, 1)
		go func() { busyRes <- get(t, busy, "/block") }()
		<-entered // busy's request is being served
		idle := dial(t, addr)
		if res := get(t, idle, "/"); res.StatusCode != http.StatusNoContent { // now idle
			t.Fatalf("GET = %d, want 204", res.StatusCode)
		}
		<-idled
		newest := dial(t, addr)
		if res := get(t, newest, "/"); res.StatusCode != http.StatusNoContent {
			t.Errorf("the new connection's GET = %d, want 204", res.StatusCode)
		}
		wantClosedSilently(t, idle, "the idle connection")
		close(release)
		if res := <-busyRes; res.StatusCode != http.StatusNoContent {
			t.Errorf("the request in progress = %d, want 204", res.StatusCode)
		}
	})
}
