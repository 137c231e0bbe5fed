package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/xmojo/diary/shared/session"
)

// Caller is the authenticated user of a request, as Authenticate found it: the user, the
// encryption tier and the live session its access token names. Every handler gets it the
// same way, with CallerOf, and the uce master key with MasterKey.
type Caller struct {
	UserID    string
	Tier      string
	SessionID string
	keys      *requestKeys
}

// ErrSessionKeyUnavailable answers a request that needs the uce master key when the
// caller's session holds none (a session opened without it): the server can neither
// encrypt nor decrypt for the user until they log in again.
var ErrSessionKeyUnavailable = NewError(http.StatusUnauthorized, "session_key_unavailable",
	"this session holds no encryption key; log in again")

// CallerOf returns the request's caller. A request that did not pass Authenticate (a route
// wired without it) has none and gets ErrUnauthorized, which a handler answers through
// Fail like any other error.
func CallerOf(r *http.Request) (Caller, error) {
	c, ok := r.Context().Value(callerKey).(Caller)
	if !ok {
		Logger(r.Context()).Error("a handler asked for the caller of a request that passed no Authenticate")
		return Caller{}, ErrUnauthorized
	}
	return c, nil
}

// MasterKey returns the uce master key the caller's session holds, as a copy of its own.
// Authenticate wipes every copy it gave out once the handler returns, so no key outlives
// its request (a handler may wipe its copy earlier); do not hand it to work that runs on
// after the request. A session without a key, which every e2e session is, answers
// ErrSessionKeyUnavailable.
func (c Caller) MasterKey() ([]byte, error) {
	if c.keys == nil {
		return nil, ErrSessionKeyUnavailable
	}
	key, err := c.keys.open()
	if errors.Is(err, session.ErrNoMasterKey) {
		return nil, ErrSessionKeyUnavailable
	}
	if err != nil {
		return nil, fmt.Errorf("httpapi: open the caller's master key: %w", err)
	}
	return key, nil
}

// requestKeys opens a session's master key for one request and remembers every copy, so
// Authenticate can wipe them all when the handler is done.
type requestKeys struct {
	sessions SessionStore
	session  session.Session
	mu       sync.Mutex
	opened   [][]byte
	ended    bool
}

// errRequestEnded is what a key asked for after its request ended gets.
var errRequestEnded = errors.New("httpapi: master key asked for after its request ended")

func (k *requestKeys) open() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ended {
		return nil, errRequestEnded
	}
	key, err := k.sessions.MasterKey(k.session)
	if err != nil {
		return nil, err
	}
	k.opened = append(k.opened, key)
	return key, nil
}

func (k *requestKeys) wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range k.opened {
		clear(key)
	}
	k.opened, k.ended = nil, true
}
