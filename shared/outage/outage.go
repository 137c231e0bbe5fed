// Package outage owns the one sentinel for "a dependency is unavailable": PostgreSQL,
// Redis or S3 could not be reached or is failing, or a bound (the Argon2id slots) is full,
// so the same call may succeed later. Every adapter wraps its failure with
// ErrUnavailable (fmt.Errorf("...: %w: %w", outage.ErrUnavailable, err)); httpapi.Fail
// answers it, in one place, with 503 and Retry-After. It imports nothing of the project,
// so every package below httpapi can use it.
package outage

import "errors"

// ErrUnavailable is in the chain of every error that means a dependency is unavailable
// and a retry may succeed. Test for it with errors.Is.
var ErrUnavailable = errors.New("dependency unavailable")
