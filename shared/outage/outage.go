// Package outage marks the errors that mean a dependency (Redis, S3, ...) could not be
// reached or is failing, so the same call may succeed later. httpapi.Fail answers such an
// error with 503 and Retry-After rather than 500. The packages below httpapi (the session
// and object stores) mark their failures here without importing it.
package outage

import "errors"

// markedError is an error marked as an outage.
type markedError struct{ err error }

func (e markedError) Error() string { return e.err.Error() }
func (e markedError) Unwrap() error { return e.err }

// Unavailable is the method Is looks for; any error type may implement it.
func (e markedError) Unavailable() bool { return true }

// Mark returns err marked as an outage, keeping it in the chain; nil stays nil.
func Mark(err error) error {
	if err == nil {
		return nil
	}
	return markedError{err}
}

// Is reports whether err, or an error it wraps, is marked as an outage: by Mark, or by
// its own Unavailable method answering true.
func Is(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}
