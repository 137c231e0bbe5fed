package integrations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/outage"
	"github.com/xmojo/diary/shared/store"
)

// stateKey is the Redis key of a connect's state: a hash of the user id and the state, so
// Redis holds nothing a callback could be forged from, and another user's callback with
// the same state finds nothing (the state is bound to the user who asked for it).
func stateKey(userID, state string) string {
	h := sha256.Sum256([]byte("diary-oauth-state-v1\x00" + userID + "\x00" + state))
	return "integrations:oauth_state:" + hex.EncodeToString(h[:])
}

// pendingConnect is what a state stands for until its callback: the provider and the
// redirect URI the dialog was opened with (the code exchange must repeat it). No secret.
type pendingConnect struct {
	Provider    string `json:"provider"`
	RedirectURI string `json:"redirect_uri"`
}

type connectRequest struct {
	RedirectURI string `json:"redirect_uri"`
}

type connectResponse struct {
	AuthorizationURL string `json:"authorization_url"`
	State            string `json:"state"`
}

// connect starts a Facebook connect: a random state, kept 10 minutes in Redis for the
// caller, and the login dialog URL that carries it.
func (s *server) connect(w http.ResponseWriter, r *http.Request) {
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req connectRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
			httpapi.Fail(w, r, err)
			return
		}
	}
	redirectURI := req.RedirectURI
	if redirectURI == "" {
		redirectURI = s.fb.DefaultRedirectURI()
	}
	switch {
	case redirectURI == "":
		httpapi.Fail(w, r, httpapi.Invalid(map[string]string{"redirect_uri": "required: the server has no FACEBOOK_REDIRECT_URI"}))
		return
	case facebook.CheckRedirectURI(redirectURI) != nil:
		httpapi.Fail(w, r, httpapi.Invalid(map[string]string{"redirect_uri": facebook.CheckRedirectURI(redirectURI).Error()}))
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: connect: state: %w", err))
		return
	}
	state := base64.RawURLEncoding.EncodeToString(raw)
	val, err := json.Marshal(pendingConnect{Provider: integration.Facebook, RedirectURI: redirectURI})
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: connect: %w", err))
		return
	}
	if err := s.svc.Redis.Set(r.Context(), stateKey(p.UserID, state), val, s.stateTTL).Err(); err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: connect: store state: %w: %w", outage.ErrUnavailable, err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, connectResponse{
		AuthorizationURL: s.fb.AuthorizationURL(state, redirectURI),
		State:            state,
	})
}

type callbackRequest struct {
	Code  string `json:"code"`
	State string `json:"state"`
}

// callback finishes a connect: it redeems the state (once), exchanges the code for a
// short-lived token and that for a long-lived one, reads the account, stores the
// integration with its token sealed, and queues the first pull.
func (s *server) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req callbackRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if req.State == "" || len(req.State) > 256 {
		httpapi.Fail(w, r, errInvalidState)
		return
	}
	if req.Code == "" || len(req.Code) > 4096 {
		httpapi.Fail(w, r, httpapi.Invalid(map[string]string{"code": "required: the code the dialog returned"}))
		return
	}
	// GETDEL: a state works once, even for two callbacks racing.
	raw, err := s.svc.Redis.GetDel(ctx, stateKey(p.UserID, req.State)).Bytes()
	if errors.Is(err, redis.Nil) {
		httpapi.Fail(w, r, errInvalidState)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: callback: redeem state: %w: %w", outage.ErrUnavailable, err))
		return
	}
	var pc pendingConnect
	if err := json.Unmarshal(raw, &pc); err != nil || pc.Provider != integration.Facebook {
		httpapi.Fail(w, r, errInvalidState)
		return
	}
	short, err := s.fb.ExchangeCode(ctx, req.Code, pc.RedirectURI)
	if err != nil {
		var fe *facebook.Error
		if errors.As(err, &fe) && !facebook.Throttled(err) {
			httpapi.Fail(w, r, errCodeRejected.Wrap(err))
			return
		}
		httpapi.Fail(w, r, s.graphFailure(ctx, nil, err))
		return
	}
	long, err := s.fb.LongLived(ctx, short.AccessToken)
	if err != nil {
		httpapi.Fail(w, r, s.graphFailure(ctx, nil, err))
		return
	}
	me, err := s.fb.Me(ctx, long.AccessToken)
	if err != nil {
		httpapi.Fail(w, r, s.graphFailure(ctx, nil, err))
		return
	}
	i, _, err := s.saveIntegration(ctx, p.UserID, me, long)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: callback: %w", err))
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, view(i))
}

// saveIntegration stores the account's integration for the user (a new row, or the row
// of an earlier connection of the same account, which becomes active again) with the
// token sealed to that row, and queues its first pull with its event, in one transaction.
func (s *server) saveIntegration(ctx context.Context, userID string, me facebook.Me, tok facebook.Token) (integration.Integration, string, error) {
	now := time.Now().UTC()
	var expires *time.Time
	if at := tok.ExpiresAt(now); !at.IsZero() {
		expires = &at
	}
	name := me.Name
	if r := []rune(name); len(r) > 256 {
		name = string(r[:256])
	}
	var (
		out   integration.Integration
		jobID string
	)
	err := store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
		// The sealed token names its row, so the row's id must be known before sealing:
		// take the existing row of the account (locked), else insert a new one; a
		// concurrent insert of the same account makes ours conflict, and the retry finds it.
		for attempt := 0; attempt < 2; attempt++ {
			var id string
			err := tx.QueryRow(ctx, `
				SELECT id FROM integrations WHERE user_id = $1 AND provider = $2 AND external_account_id = $3
				FOR UPDATE`, userID, integration.Facebook, me.ID).Scan(&id)
			existing := err == nil
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("find integration: %w", store.Translate(err))
			}
			if !existing {
				id = uuid.NewString()
			}
			ct, err := s.tokens.Seal(userID, id, integration.Facebook, tok.AccessToken)
			if err != nil {
				return err
			}
			if existing {
				_, err = tx.Exec(ctx, `
					UPDATE integrations SET display_name = $2, status = 'active', access_token_ct = $3,
						token_expires_at = $4, sync_not_before = NULL, connected_at = $5, updated_at = $5
					WHERE id = $1`, id, name, ct, expires, now)
				if err != nil {
					return fmt.Errorf("update integration: %w", store.Translate(err))
				}
			} else {
				tag, err := tx.Exec(ctx, `
					INSERT INTO integrations (id, user_id, provider, external_account_id, display_name, status,
						access_token_ct, token_expires_at, connected_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $8)
					ON CONFLICT (user_id, provider, external_account_id) DO NOTHING`,
					id, userID, integration.Facebook, me.ID, name, ct, expires, now)
				if err != nil {
					return fmt.Errorf("insert integration: %w", store.Translate(err))
				}
				if tag.RowsAffected() == 0 {
					continue
				}
			}
			out, err = integration.Get(ctx, tx, userID, id)
			if err != nil {
				return err
			}
			if jobID, _, err = integration.QueuePull(ctx, tx, out); err != nil {
				return err
			}
			return addPull(ctx, tx, out, jobID)
		}
		return fmt.Errorf("save integration: %w", store.ErrConflict)
	})
	if err == nil {
		s.relay.Wake()
	}
	return out, jobID, err
}
