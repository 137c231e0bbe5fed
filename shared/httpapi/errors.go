// Package httpapi owns what every HTTP function shares at its edge: the route table and
// its 404 and 405 answers, the error shape {"detail","code"}, strict JSON decoding, request
// ids, access logs, the time limits of a request, the rule that no answer is cached, and
// the middleware that authenticates a request and the Caller it gives the handler.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

// Error is an error with the status and body a client should see.
type Error struct {
	Status int
	Code   string
	Detail string
	// Fields holds per-field messages for 422 validation errors.
	Fields map[string]string
	// RetryAfter sets the Retry-After header (429, 503) when positive.
	RetryAfter time.Duration
}

// Error implements error with the client-facing detail.
func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// NewError returns an Error with the status, code and detail.
func NewError(status int, code, detail string) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
}

// Invalid returns a 422 validation error listing the offending fields.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Detail: "some fields are invalid", Fields: fields}
}

// Unavailable returns the 503 for a dependency (or the function itself) that cannot serve
// right now, with a Retry-After of five seconds; detail says what to wait for.
func Unavailable(detail string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable", Detail: detail, RetryAfter: 5 * time.Second}
}

// Common errors shared by every function.
var (
	ErrUnauthorized = NewError(http.StatusUnauthorized, "not_authenticated", "missing, invalid or expired access token")
	ErrNotFound     = NewError(http.StatusNotFound, "not_found", "not found")
)

type errorBody struct {
	Detail string            `json:"detail"`
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Fail writes err to the client in the error shape. It is the one place errors become
// statuses: an *Error is sent as it is; store.ErrNotFound is a 404, store.ErrConflict a
// 409, store.ErrUnavailable a 503; anything else is logged and answered with a bare 500.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr):
	case errors.Is(err, store.ErrNotFound):
		apiErr = ErrNotFound
	case errors.Is(err, store.ErrConflict):
		apiErr = NewError(http.StatusConflict, "conflict", "the request conflicts with the current state")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer. This comes before the outage
		// case: a dependency call cut short by the client's leaving is no outage, even
		// when the package that made it marked its failure as one.
		Logger(r.Context()).Info("request canceled by client")
		apiErr = NewError(499, "client_closed_request", "request canceled")
	case errors.Is(err, store.ErrUnavailable), outage.Is(err):
		Logger(r.Context()).Error("dependency unavailable", "error", err.Error())
		apiErr = Unavailable("a dependency is unavailable, try again shortly")
	default:
		Logger(r.Context()).Error("request failed", "error", err.Error())
		apiErr = NewError(http.StatusInternalServerError, "internal_error", "internal server error")
	}
	// Also here, for the errors answered outside Observe (a function still starting).
	noStore(w.Header())
	if apiErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((apiErr.RetryAfter+time.Second-1)/time.Second)))
	}
	WriteJSON(w, apiErr.Status, errorBody{Detail: apiErr.Detail, Code: apiErr.Code, Fields: apiErr.Fields})
}

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	enc := jsonEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write json", "error", err.Error())
	}
}
