package integrations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/outbox"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/platform"
)

const (
	// stateTTL is how long a connect's state may be redeemed by its callback.
	stateTTL = 10 * time.Minute
	// bodyLimit bounds every JSON body; the largest, a push's message, is under 64 KiB.
	bodyLimit = 256 << 10
	// revokeTimeout bounds the best-effort revocation at Facebook on disconnect.
	revokeTimeout = 5 * time.Second
)

// Errors with a status of their own.
var (
	errNotConfigured = httpapi.NewError(http.StatusServiceUnavailable, "integration_not_configured",
		"the Facebook integration is not configured on this server")
	errInvalidState = httpapi.NewError(http.StatusBadRequest, "invalid_state",
		"the state is unknown, already used, expired or not yours: start the connect again")
	errNotConnected = httpapi.NewError(http.StatusConflict, "integration_not_connected",
		"Facebook is not connected: connect it first")
	errNeedsReauth = httpapi.NewError(http.StatusConflict, "needs_reauth",
		"Facebook no longer accepts this connection: connect Facebook again")
	errCodeRejected = httpapi.NewError(http.StatusBadRequest, "facebook_code_rejected",
		"Facebook did not accept the authorization code (used already, expired, or for another redirect URI): start the connect again")
	errRateLimited = &httpapi.Error{Status: http.StatusTooManyRequests, Code: "facebook_rate_limited",
		Detail: "Facebook asks us to slow down: try again later", RetryAfter: time.Minute}
	errPermission = httpapi.NewError(http.StatusForbidden, "facebook_permission_denied",
		"Facebook refused: the app lacks a permission for this; connect Facebook again and grant every permission asked for")
	errFacebook = httpapi.NewError(http.StatusBadGateway, "facebook_error",
		"Facebook refused the request")
	errFacebookDown = &httpapi.Error{Status: http.StatusServiceUnavailable, Code: "facebook_unavailable",
		Detail: "Facebook did not answer: try again shortly", RetryAfter: 30 * time.Second}
	errPageNotFound = httpapi.NewError(http.StatusNotFound, "page_not_found",
		"no Page you may post to has that id")
	errEntryPending = httpapi.NewError(http.StatusConflict, "entry_pending",
		"the entry's text is not readable yet: open your entries first, then push again")
	errPushInProgress = httpapi.NewError(http.StatusConflict, "push_in_progress",
		"this entry is being pushed to that Page right now")
	errBadSignedRequest = httpapi.NewError(http.StatusBadRequest, "invalid_signed_request",
		"the signed_request is missing, malformed or not signed by the app")
)

// server holds what the handlers share.
type server struct {
	svc *platform.Services
	// relay sends the pull events the handlers write to the outbox.
	relay     *outbox.Relay
	publicURL string
	stateTTL  time.Duration
	// fb and tokens are nil when no Facebook app is configured.
	fb        *facebook.Client
	tokens    *integration.Tokens
	appSecret string
}

// configured wraps a handler so that it answers 503 integration_not_configured while no
// Facebook app is configured.
func (s *server) configured(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.fb == nil {
			httpapi.Fail(w, r, errNotConfigured)
			return
		}
		h(w, r)
	}
}

// graphFailure turns a Graph call's failure into the client's answer: never a 500. A
// refused token (code 190) also marks the integration needs_reauth.
func (s *server) graphFailure(ctx context.Context, i *integration.Integration, err error) error {
	var fe *facebook.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case facebook.TokenInvalid(err):
		if i != nil {
			if merr := integration.MarkNeedsReauth(context.WithoutCancel(ctx), s.svc.DB, *i); merr != nil {
				return fmt.Errorf("integrations: %w (after %w)", merr, err)
			}
		}
		return errNeedsReauth.Wrap(err)
	case facebook.Throttled(err):
		return errRateLimited.Wrap(err)
	case facebook.PermissionDenied(err):
		return errPermission.Wrap(err)
	case errors.As(err, &fe):
		return errFacebook.Wrap(err)
	default:
		return errFacebookDown.Wrap(err)
	}
}

// integrationView is an integration as the API shows it.
type integrationView struct {
	ID                string     `json:"id"`
	Provider          string     `json:"provider"`
	ExternalAccountID string     `json:"external_account_id"`
	DisplayName       string     `json:"display_name"`
	Status            string     `json:"status"`
	ConnectedAt       time.Time  `json:"connected_at"`
	LastSyncedAt      *time.Time `json:"last_synced_at"`
}

func view(i integration.Integration) integrationView {
	v := integrationView{
		ID: i.ID, Provider: i.Provider, ExternalAccountID: i.ExternalAccountID, DisplayName: i.DisplayName,
		Status: i.Status, ConnectedAt: i.ConnectedAt.UTC(),
	}
	if i.LastSyncedAt != nil {
		t := i.LastSyncedAt.UTC()
		v.LastSyncedAt = &t
	}
	return v
}

// active returns the user's Facebook integration that can make calls, with its token:
// 409 integration_not_connected without one, 409 needs_reauth when Facebook refused it.
func (s *server) active(ctx context.Context, userID string) (integration.Integration, string, error) {
	i, err := integration.Latest(ctx, s.svc.DB, userID, integration.Facebook)
	if errors.Is(err, integration.ErrNotFound) {
		return integration.Integration{}, "", errNotConnected
	}
	if err != nil {
		return integration.Integration{}, "", err
	}
	if i.Status != integration.Active {
		return integration.Integration{}, "", errNeedsReauth
	}
	tok, err := s.tokens.Open(i)
	if err != nil {
		return integration.Integration{}, "", err
	}
	return i, tok, nil
}

// addPull writes the event that tells the sync consumer to pull the integration's posts
// for the job to the outbox, in tx, the transaction that queued the job; the relay sends
// it after the commit.
func addPull(ctx context.Context, tx pgx.Tx, i integration.Integration, jobID string) error {
	_, err := outbox.Add(ctx, tx, eventing.TypeIntegrationPullRequested, eventing.SourceIntegrations, i.ID, i.UserID,
		eventing.IntegrationPullRequested{UserID: i.UserID, IntegrationID: i.ID, JobID: jobID})
	return err
}
