package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/xmojo/diary/shared/config"
)

// The time limits of one HTTP exchange. NewServer puts them on every server the project
// runs (shared/host, cmd/diary, the gateway's metrics listener), and Observe applies the
// read and write deadlines again to each request it serves (the read deadline sized to the
// request's own body, BodyReadTimeout), so they also hold under knative/func-go in the
// cluster, whose own server ends every request after 30 seconds (ReadTimeout and
// WriteTimeout 30 s, IdleTimeout 30 s, ReadHeaderTimeout 2 s). The bounds on headers and
// connections (ServerLimits) are the servers' own.
//
// They are sized for the largest legal request on a slow link. The largest body any
// function accepts is an entry: 1.5 MiB (1 MiB of content, as e2e base64 ciphertext, and
// the other fields; functions/entries maxBodyBytes). Key backups are at most 64 KiB of
// ciphertext, auth bodies 16 KiB, media bodies 8 KiB; media and import bytes go straight to
// S3 with presigned URLs and never reach a function. At SlowLinkBytesPerSecond
// (128 kbit/s) 1.5 MiB takes 98 s, inside ReadTimeout.
//
// The longest answer that is not streamed is a page of entries or a single entry: an entry
// of 1.5 MiB takes 98 s at 128 kbit/s, so a PUT that reads one and answers with it needs
// about 200 s of WriteTimeout, and a GET can send about 4.5 MB in WriteTimeout. A handler
// that streams a longer answer (the archive export) moves its own write deadline before
// each chunk it writes:
//
//	rc := http.NewResponseController(w)
//	for chunk := range chunks {
//		if err := rc.SetWriteDeadline(time.Now().Add(httpapi.WriteTimeout)); err != nil { ... }
//		if _, err := w.Write(chunk); err != nil { ... }
//	}
//
// Every writer wrapper in this project (StatusRecorder, which Observe and the gateway's
// metrics use, and the gateway's proxy wrapper) has Unwrap, so the ResponseController
// reaches the connection; the gateway
// moves its own deadline on each chunk a proxied answer brings (see the root package).
// In the cluster Knative's revision timeoutSeconds (300 s by default) bounds a request
// too; a streaming function raises it.
const (
	// SlowLinkBytesPerSecond is the slowest client link the limits are sized for:
	// 128 kbit/s, a poor mobile connection.
	SlowLinkBytesPerSecond = 16_000
	// LargestBodyBytes is the largest request body a function accepts (an entry). Observe
	// refuses a larger one with 413 whatever the endpoint.
	LargestBodyBytes = 3 << 19
	// ReadHeaderTimeout bounds reading a request's headers (a slowloris client that
	// trickles them is cut off): a request's headers are a few hundred bytes, well under
	// a second on the slow link, even after a few round trips. The default of
	// HTTP_READ_HEADER_TIMEOUT.
	ReadHeaderTimeout = 5 * time.Second
	// BodyGrace is what a request's read deadline allows besides its declared body at
	// SlowLinkBytesPerSecond: the first bytes' round trip and the handler's work before it
	// reads (the session check).
	BodyGrace = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included: LargestBodyBytes at
	// SlowLinkBytesPerSecond, with room to spare. Observe shortens it to what the
	// request's Content-Length needs (BodyReadTimeout).
	ReadTimeout = 2 * time.Minute
	// WriteTimeout bounds a request from the end of its headers to the end of its answer:
	// reading the body, the handler's work and writing the answer.
	WriteTimeout = 5 * time.Minute
	// IdleTimeout bounds how long a kept-alive connection waits for its next request, as
	// under func-go. The default of HTTP_IDLE_TIMEOUT.
	IdleTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's line and headers (net/http adds 4 KiB of slack);
	// past it the server answers 431. A bearer token, If-Match, Idempotency-Key and the
	// forwarding headers are well under 4 KiB; Go's own default is 1 MiB, which lets one
	// request make the server parse a million header bytes. The default of
	// HTTP_MAX_HEADER_BYTES.
	MaxHeaderBytes = 32 << 10
	// MaxConnections bounds the connections a server holds at once (each costs about
	// 11 KiB while idle: docs/benchmarks.md, "Slow and large clients"). The default of
	// HTTP_MAX_CONNECTIONS.
	MaxConnections = 4096
)

// ServerLimits are a server's limits on its connections that an operator may change:
// shared/host and cmd/diary read them from HTTP_* variables (LoadServerLimits). The read
// and write timeouts are not among them: they are sized for the largest body on the slow
// link and applied again to every request by Observe, also under func-go in the cluster,
// where the server is func-go's and Knative's ingress bounds the headers.
type ServerLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `envconfig:"HTTP_READ_HEADER_TIMEOUT" default:"5s"`
	// IdleTimeout bounds how long a kept-alive connection waits for its next request.
	IdleTimeout time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"30s"`
	// MaxHeaderBytes bounds a request's line and headers (431 past it).
	MaxHeaderBytes int `envconfig:"HTTP_MAX_HEADER_BYTES" default:"32768"`
	// MaxConnections bounds the connections held at once: a new connection past it closes
	// the one that has waited longest without a request in progress (see connLimiter);
	// 0 means no bound.
	MaxConnections int `envconfig:"HTTP_MAX_CONNECTIONS" default:"4096"`
}

// DefaultServerLimits are the limits NewServer uses: the constants above.
func DefaultServerLimits() ServerLimits {
	return ServerLimits{ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes, MaxConnections: MaxConnections}
}

// LoadServerLimits reads the HTTP_* variables from env, each defaulting to
// DefaultServerLimits; an error names the variable at fault.
func LoadServerLimits(env map[string]string) (ServerLimits, error) {
	var l ServerLimits
	if err := config.Load(env, &l); err != nil {
		return ServerLimits{}, fmt.Errorf("httpapi: server limits: %w", err)
	}
	switch {
	case l.ReadHeaderTimeout <= 0 || l.ReadHeaderTimeout > ReadTimeout:
		return ServerLimits{}, fmt.Errorf("httpapi: HTTP_READ_HEADER_TIMEOUT must be above 0 and at most %v", ReadTimeout)
	case l.IdleTimeout <= 0:
		return ServerLimits{}, errors.New("httpapi: HTTP_IDLE_TIMEOUT must be above 0")
	case l.MaxHeaderBytes < 4<<10:
		return ServerLimits{}, errors.New("httpapi: HTTP_MAX_HEADER_BYTES must be at least 4096")
	case l.MaxConnections < 0:
		return ServerLimits{}, errors.New("httpapi: HTTP_MAX_CONNECTIONS must be 0 (no bound) or more")
	}
	return l, nil
}

// NewServer returns an HTTP server for handler on addr with the project's time limits and
// DefaultServerLimits.
func NewServer(addr string, handler http.Handler) *http.Server {
	return DefaultServerLimits().NewServer(addr, handler)
}

// NewServer returns an HTTP server for handler on addr with the project's read and write
// timeouts and l.
func (l ServerLimits) NewServer(addr string, handler http.Handler) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
	if l.MaxConnections > 0 {
		srv.ConnState = newConnLimiter(l.MaxConnections).track
	}
	return srv
}

// BodyReadTimeout is how long a request with this Content-Length may take to arrive from
// the start of its handler: its body at SlowLinkBytesPerSecond plus BodyGrace, at most
// ReadTimeout (also for a body of unknown length, which MaxBytesReader bounds). A client
// that declares 64 KiB and trickles it is cut off after 14 s, not after ReadTimeout, and a
// legitimate one on the slow link still gets its whole body through.
func BodyReadTimeout(contentLength int64) time.Duration {
	if contentLength < 0 || contentLength > LargestBodyBytes {
		return ReadTimeout
	}
	return min(ReadTimeout, BodyGrace+time.Duration(contentLength)*time.Second/SlowLinkBytesPerSecond)
}

// applyDeadlines gives the request being served the project's read and write deadlines,
// counted from now, whatever server it arrived on: the write deadline WriteTimeout, and a
// read deadline its body needs (BodyReadTimeout) that is lifted once the body has been read
// to its end, or at once when there is none. The lifting matters: once the body is read,
// net/http reads the connection in the background to notice a client that leaves, and a
// read deadline passing there cancels the request's context, which would end any handler
// working longer than its body took to arrive (a wait for a bcrypt slot, an export). The
// next request on the connection gets the server's own deadlines again. A writer that
// cannot set deadlines (a test recorder) is left as it is.
func applyDeadlines(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	_ = rc.SetWriteDeadline(now.Add(WriteTimeout))
	if r.Body == nil || r.Body == http.NoBody {
		_ = rc.SetReadDeadline(time.Time{})
		return
	}
	_ = rc.SetReadDeadline(now.Add(BodyReadTimeout(r.ContentLength)))
	r.Body = &bodyDeadline{ReadCloser: r.Body, rc: rc}
}

// bodyDeadline lifts the connection's read deadline when the body it reads ends.
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// noStore marks an answer as one no cache may keep: API answers carry tokens, recovery
// codes, entries and presigned media URLs.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
}
