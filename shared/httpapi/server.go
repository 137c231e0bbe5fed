package httpapi

import (
	"net/http"
	"time"
)

// The time limits of one HTTP exchange. NewServer puts them on every server the project
// runs (shared/host, cmd/diary, the gateway's metrics listener), and Observe applies the
// read and write deadlines again to each request it serves, so they also hold under
// knative/func-go in the cluster, whose own server ends every request after 30 seconds
// (ReadTimeout and WriteTimeout 30 s, IdleTimeout 30 s, ReadHeaderTimeout 2 s).
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
	// LargestBodyBytes is the largest request body a function accepts (an entry).
	LargestBodyBytes = 3 << 19
	// ReadHeaderTimeout bounds reading a request's headers (a slowloris client that
	// trickles them is cut off).
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included: LargestBodyBytes at
	// SlowLinkBytesPerSecond, with room to spare.
	ReadTimeout = 2 * time.Minute
	// WriteTimeout bounds a request from the end of its headers to the end of its answer:
	// reading the body, the handler's work and writing the answer.
	WriteTimeout = 5 * time.Minute
	// IdleTimeout bounds how long a kept-alive connection waits for its next request.
	IdleTimeout = 2 * time.Minute
)

// NewServer returns an HTTP server for handler on addr with the project's time limits.
func NewServer(addr string, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
	}
}

// applyDeadlines gives the request being served the project's read and write deadlines,
// counted from now, whatever server it arrived on. A writer that cannot set deadlines (a
// test recorder) is left as it is.
func applyDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	now := time.Now()
	_ = rc.SetReadDeadline(now.Add(ReadTimeout))
	_ = rc.SetWriteDeadline(now.Add(WriteTimeout))
}

// noStore marks an answer as one no cache may keep: API answers carry tokens, recovery
// codes, entries and presigned media URLs.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
}
