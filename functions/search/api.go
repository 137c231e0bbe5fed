package search

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/httpapi"
)

// api holds what the handlers need.
type api struct {
	db *pgxpool.Pool
	// relay sends the reindex events the handler writes to the outbox.
	relay *outbox.Relay
}

// errTierUnsupported answers every search call of an e2e user: the server cannot read
// what it would search.
var errTierUnsupported = httpapi.NewError(http.StatusForbidden, "feature_unavailable_for_tier",
	"search is offered to uce accounts only; an e2e client searches on the device")

// caller is the request's uce caller and, when the handler asked for it, the master key
// (wiped by Authenticate when the handler returns).
type caller struct {
	userID    string
	sessionID string
	key       []byte
}

// callerOf returns the request's caller: 403 for e2e, and with needKey the master key
// (401 session_key_unavailable for a session that holds none).
func callerOf(r *http.Request, needKey bool) (caller, error) {
	hc, err := httpapi.CallerOf(r)
	if err != nil {
		return caller{}, err
	}
	if hc.Tier != "uce" {
		return caller{}, errTierUnsupported
	}
	c := caller{userID: hc.UserID, sessionID: hc.SessionID}
	if needKey {
		if c.key, err = hc.MasterKey(); err != nil {
			return caller{}, err
		}
	}
	return c, nil
}
