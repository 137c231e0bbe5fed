package auth

import (
	"net/http"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
)

// The auth function's own client errors. Each answers the same way whatever the reason
// behind it, so an answer never tells which emails exist or which check failed.
var (
	errInvalidCredentials = httpapi.NewError(http.StatusUnauthorized, "invalid_credentials",
		"the email or password is incorrect")
	errEmailTaken = httpapi.NewError(http.StatusConflict, "email_taken",
		"an account with this email already exists")
	errInvalidRefresh = httpapi.NewError(http.StatusUnauthorized, "invalid_refresh_token",
		"the refresh token is invalid, expired or revoked")
	errRefreshReused = httpapi.NewError(http.StatusUnauthorized, "refresh_token_reused",
		"the refresh token was already used, so the session has been revoked; log in again")
	errInvalidRecoveryCode = httpapi.NewError(http.StatusUnauthorized, "invalid_recovery_code",
		"the recovery code is invalid or already used")
	errUnknownRoute = httpapi.NewError(http.StatusNotFound, "not_found", "no such endpoint")
)

// rateLimited is the 429 for a client or account that made too many attempts.
func rateLimited(retryAfter time.Duration) error {
	return &httpapi.Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Detail: "too many attempts, try again later", RetryAfter: retryAfter}
}

// errBusy is the reason given with the 503 for a login or signup that waited too long for
// a free bcrypt or Argon2id slot.
var errBusy = httpapi.Unavailable("too many logins at once, try again shortly")
