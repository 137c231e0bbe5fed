package config

import (
	"log/slog"
)

// UnreachableError says that the service a setting points at (PostgreSQL at DATABASE_URL,
// Redis at REDIS_URL) cannot be used. Its text names the setting and the service and
// nothing else: a driver's message carries the host, the port and the user name, and
// readiness answers print errors as they are (func-go does, on the public host for the
// gateway). The cause stays in the chain for errors.Is and errors.As.
type UnreachableError struct {
	// Setting is the variable that points at the service, e.g. DATABASE_URL.
	Setting string
	// Service names what does not answer, e.g. postgres.
	Service string
	// Err is the cause, never shown in Error.
	Err error
}

// Error names the setting and the service only.
func (e *UnreachableError) Error() string {
	return e.Setting + ": " + e.Service + " is not reachable"
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Unreachable returns the UnreachableError for cause and logs the cause, so the operator
// still sees what the driver said (in the function's own log, not in an answer).
func Unreachable(setting, service string, cause error) error {
	slog.Warn("service not reachable", "setting", setting, "service", service, "error", cause.Error())
	return &UnreachableError{Setting: setting, Service: service, Err: cause}
}
