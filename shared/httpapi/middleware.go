package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/token"
)

type ctxKey int

const (
	loggerKey ctxKey = iota
	callerKey
	requestIDKey
	accessLoggedKey
)

// RequestIDHeader carries the request id between client, gateway and functions.
const RequestIDHeader = "X-Request-Id"

// Logger returns the request's logger (with its request id), or the default logger.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// RequestID returns the request's id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// StatusRecorder is a ResponseWriter that records the status and the size of the answer
// written through it, for access logs (Observe) and metrics (the gateway). It has Unwrap,
// so http.ResponseController reaches the writer underneath.
type StatusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
	// beforeHeaders, when set, runs once, just before the headers are written.
	beforeHeaders func(http.Header)
}

// NewStatusRecorder returns a StatusRecorder over w.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w}
}

// Status is the status written, 200 for a body written without one, or 0 when nothing was
// written yet.
func (s *StatusRecorder) Status() int { return s.status }

// Bytes is how many body bytes were written.
func (s *StatusRecorder) Bytes() int { return s.bytes }

// WriteHeader records the first status and writes it.
func (s *StatusRecorder) WriteHeader(code int) {
	s.first(code)
	s.ResponseWriter.WriteHeader(code)
}

// Write writes b, recording a 200 when no status was written before.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	s.first(http.StatusOK)
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap returns the writer underneath.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *StatusRecorder) first(code int) {
	if s.status != 0 {
		return
	}
	s.status = code
	if s.beforeHeaders != nil {
		s.beforeHeaders(s.Header())
	}
}

// Observe is the outer middleware of every function: it assigns or carries the request id,
// puts a logger with it in the context, gives the request the project's read and write
// deadlines (BodyReadTimeout, WriteTimeout; whatever server it arrived on), refuses a body
// over LargestBodyBytes with 413 (limitBody), marks every answer
// Cache-Control: no-store (errors included; a handler cannot loosen it), recovers panics
// into a 500 in the error shape, and writes one JSON access-log line per request. When one Observe runs inside another (a
// group mounted in-process by the gateway), only the innermost writes the line, since it
// knows the route and the service that answered. The line holds the method, the route
// pattern (never the query string, which may hold tokens or search terms), status, size and
// duration.
func Observe(base *slog.Logger, service string, next http.Handler) http.Handler {
	if base == nil {
		base = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		noStore(w.Header())
		logger := base.With("request_id", id, "service", service)
		ctx := context.WithValue(r.Context(), loggerKey, logger)
		ctx = context.WithValue(ctx, requestIDKey, id)
		logged, nested := ctx.Value(accessLoggedKey).(*bool)
		if !nested {
			logged = new(bool)
			ctx = context.WithValue(ctx, accessLoggedKey, logged)
		}
		r = r.WithContext(ctx)
		// noStore again as the headers leave: a proxied answer has added the upstream's
		// own Cache-Control by now, and no handler may loosen it.
		rec := &StatusRecorder{ResponseWriter: w, beforeHeaders: noStore}
		// Both replace the body of r, the handler's copy: the server's own request keeps its
		// body, which net/http inspects after the handler to decide whether to discard what
		// is left or close the connection.
		applyDeadlines(w, r)
		limitBody(w, r)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.Error("panic", "panic", p, "stack", string(debug.Stack()))
				if rec.Status() == 0 {
					Fail(rec, r, errors.New("panic"))
				}
			}
			if *logged {
				return
			}
			*logged = nested
			route := r.Pattern
			if route == "" {
				route = r.URL.Path
			}
			logger.Info("request",
				"method", r.Method,
				"route", route,
				"status", rec.Status(),
				"bytes", rec.Bytes(),
				"duration_ms", float64(time.Since(start).Microseconds())/1000,
			)
		}()
		if r.ContentLength > LargestBodyBytes {
			Fail(rec, r, errBodyTooLarge(LargestBodyBytes))
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// limitBody bounds r's body at LargestBodyBytes, whatever the handler reads of it (a proxy
// reads it all): past it reading fails with *http.MaxBytesError, which DecodeJSON and the
// gateway's proxy answer with 413. A body that declares more is refused before the handler
// runs.
func limitBody(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, LargestBodyBytes)
	}
}

// TrimTrailingSlash serves "/a/b/" as "/a/b", as the API contract allows. The route
// pattern the mux below found is copied back to r, so the access log names the route for
// "/a/b/" too, not the path with its ids.
func TrimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if len(p) <= 1 || !strings.HasSuffix(p, "/") {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimRight(p, "/")
		if r2.URL.Path == "" {
			r2.URL.Path = "/"
		}
		r2.URL.RawPath = ""
		next.ServeHTTP(w, r2)
		r.Pattern = r2.Pattern
	})
}

// SessionStore is what Authenticate needs of the session store, *session.Store: the live
// session an access token names, and the master key such a session holds.
type SessionStore interface {
	Get(ctx context.Context, id string) (session.Session, error)
	MasterKey(sess session.Session) ([]byte, error)
}

// Authenticate requires a valid bearer access token whose session is still alive, and
// puts the Caller in the request context. Every failure of the token or the session
// answers the same 401; a session store that cannot answer goes to Fail (503 for an
// outage). Once next returns, every master key the handler opened through the Caller is
// wiped.
func Authenticate(v *token.Verifier, sessions SessionStore, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			Fail(w, r, ErrUnauthorized)
			return
		}
		claims, err := v.Verify(raw)
		if err != nil {
			Logger(r.Context()).Info("access token rejected", "reason", reasonOf(err))
			Fail(w, r, ErrUnauthorized)
			return
		}
		sess, err := sessions.Get(r.Context(), claims.SessionID)
		if errors.Is(err, session.ErrTampered) {
			// Someone wrote to Redis without the session key: worth an operator's look.
			Logger(r.Context()).Warn("session record failed its integrity check", "session_id", claims.SessionID)
		}
		if errors.Is(err, session.ErrNotFound) || (err == nil && sess.UserID != claims.Subject) {
			Fail(w, r, ErrUnauthorized)
			return
		}
		if err != nil {
			// Redis out of reach is an outage (503), a client that left a 499: Fail decides.
			Fail(w, r, fmt.Errorf("httpapi: authenticate: %w", err))
			return
		}
		keys := &requestKeys{sessions: sessions, session: sess}
		defer keys.wipe()
		ctx := context.WithValue(r.Context(), callerKey, Caller{UserID: claims.Subject, Tier: claims.Tier, SessionID: sess.ID, keys: keys})
		ctx = context.WithValue(ctx, loggerKey, Logger(ctx).With("user_id", claims.Subject))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// reasonOf keeps only the token library's message, which never holds the token itself.
func reasonOf(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}
