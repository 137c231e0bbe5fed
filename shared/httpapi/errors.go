// Package httpapi owns what every HTTP function shares at its edge: the error shape
// {"detail","code"}, strict JSON decoding, request ids, access logs, the time limits of a
// request, the rule that no answer is cached, and the middleware that authenticates a
// caller.
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
	// RetryAfter sets the Retry-After header (429) when positive.
	RetryAfter time.Duration
	// Err is the cause behind the answer, for the log only: Fail logs it with a 5xx and
	// never sends it.
	Err error
}

// Error implements error with the client-facing detail, and the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Detail + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns a copy of e with cause as its Err: the same answer, and the cause in the
// log. Being a copy, it is not errors.Is e; test for the cause instead.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// NewError returns an Error with the status, code and detail.
func NewError(status int, code, detail string) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
}

// Invalid returns a 422 validation error listing the offending fields.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Detail: "some fields are invalid", Fields: fields}
}

// Unavailable returns an outage (outage.ErrUnavailable) with a detail for the client, for a
// function that cannot serve for a reason of its own: it is starting, it lacks its config,
// the function it forwards to does not answer, a bound is full. Fail answers it like every
// outage, with 503 and Retry-After, and does not log it: whoever returns it knows why.
func Unavailable(detail string) error {
	return &unavailableError{detail: detail}
}

type unavailableError struct{ detail string }

func (e *unavailableError) Error() string { return "unavailable: " + e.detail }
func (e *unavailableError) Unwrap() error { return outage.ErrUnavailable }

// retryUnavailable is the Retry-After of every 503: long enough for a pod to start or a
// connection to come back.
const retryUnavailable = 5 * time.Second

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
// statuses: a client that went away is a 499 (logged, never an outage); an *Error is sent
// as it is (its cause logged when it is a 5xx); outage.ErrUnavailable is a 503 with
// Retry-After; store.ErrNotFound is a 404, store.ErrConflict a 409; anything else is
// logged and answered with a bare 500.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	apiErr := answerFor(r, err)
	// Also here, for the errors answered outside Observe (a function still starting).
	noStore(w.Header())
	if apiErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((apiErr.RetryAfter+time.Second-1)/time.Second)))
	}
	WriteJSON(w, apiErr.Status, errorBody{Detail: apiErr.Detail, Code: apiErr.Code, Fields: apiErr.Fields})
}

// answerFor maps err to its answer, logging what an operator needs to see.
func answerFor(r *http.Request, err error) *Error {
	logger := Logger(r.Context())
	var apiErr *Error
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer. This comes first: a dependency
		// call cut short by the client's leaving is no outage, even when the package that
		// made it wrapped its failure as one.
		logger.Info("request canceled by client")
		return NewError(499, "client_closed_request", "request canceled")
	case errors.As(err, &apiErr):
		if apiErr.Status >= 500 {
			logger.Error("request failed", "status", apiErr.Status, "error", err.Error())
		}
		return apiErr
	case errors.Is(err, outage.ErrUnavailable):
		detail := "a dependency is unavailable, try again shortly"
		var reason *unavailableError
		if errors.As(err, &reason) {
			detail = reason.detail
		} else {
			logger.Error("dependency unavailable", "error", err.Error())
		}
		return &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable", Detail: detail, RetryAfter: retryUnavailable}
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return NewError(http.StatusConflict, "conflict", "the request conflicts with the current state")
	default:
		logger.Error("request failed", "error", err.Error())
		return NewError(http.StatusInternalServerError, "internal_error", "internal server error")
	}
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
