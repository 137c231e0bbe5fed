package integrations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/store"
)

// deletionFormLimit bounds the callback's form body; a signed_request is a few hundred bytes.
const deletionFormLimit = 16 << 10

// deletionMessage is what a pull job that a data deletion request ended tells the user.
const deletionMessage = "Facebook asked us to delete the data of this connection, so it was disconnected."

// deletionStatusPath is where the status of a data deletion request is shown, below the
// function's base path, followed by the confirmation code.
const deletionStatusPath = "/facebook/data-deletion/"

type deletionResponse struct {
	URL              string `json:"url"`
	ConfirmationCode string `json:"confirmation_code"`
}

// dataDeletion is Facebook's data deletion callback: a form POST with signed_request,
// which must verify under the app secret (HMAC-SHA256, compared in constant time). It
// deletes everything the app holds from Facebook about that app-scoped user: every
// integration with that account (token included), the ids of posts imported from it and
// of posts pushed through it. Entries already imported are the diary users' own entries,
// sealed to their keys, and stay theirs. It answers {url, confirmation_code}; the url
// shows the request's status.
func (s *server) dataDeletion(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sr, err := signedRequestOf(w, r, s.appSecret)
	if err != nil {
		if errors.Is(err, errBadSignedRequest) {
			httpapi.Logger(ctx).Warn("data deletion callback refused: the signed_request did not verify")
		}
		httpapi.Fail(w, r, err)
		return
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: data deletion: code: %w", err))
		return
	}
	code := hex.EncodeToString(raw)
	deleted, err := s.deleteAccountData(ctx, sr.UserID, code)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: data deletion: %w", err))
		return
	}
	for _, i := range deleted {
		s.revoke(r, i)
	}
	httpapi.Logger(ctx).Info("data deletion callback done", "integrations_deleted", len(deleted))
	httpapi.WriteJSON(w, http.StatusOK, deletionResponse{URL: s.statusURL(r, code), ConfirmationCode: code})
}

// signedRequestOf reads the callback's form, bounded by deletionFormLimit, and verifies its
// signed_request under the app secret: 415 for a body that is no form, errBadSignedRequest
// (400) for a form that does not parse or a signed_request that does not verify.
func signedRequestOf(w http.ResponseWriter, r *http.Request, appSecret string) (facebook.SignedRequest, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" {
		return facebook.SignedRequest{}, httpapi.NewError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be a form (application/x-www-form-urlencoded) with signed_request")
	}
	r.Body = http.MaxBytesReader(w, r.Body, deletionFormLimit)
	if err := r.ParseMultipartForm(deletionFormLimit); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return facebook.SignedRequest{}, errBadSignedRequest
	}
	sr, err := facebook.ParseSignedRequest(appSecret, r.PostForm.Get("signed_request"))
	if err != nil {
		return facebook.SignedRequest{}, errBadSignedRequest
	}
	return sr, nil
}

// deleteAccountData deletes, in one transaction, what is stored from the Facebook account,
// and records the request under the code's hash. It returns the deleted integrations, for
// the revocation that follows.
func (s *server) deleteAccountData(ctx context.Context, externalID, code string) ([]integration.Integration, error) {
	var deleted []integration.Integration
	err := store.Transact(ctx, s.svc.DB, func(tx pgx.Tx) error {
		deleted = nil
		rows, err := tx.Query(ctx, `
			SELECT id, user_id FROM integrations WHERE provider = $1 AND external_account_id = $2 ORDER BY id`,
			integration.Facebook, externalID)
		if err != nil {
			return fmt.Errorf("find integrations: %w", store.Translate(err))
		}
		type owner struct{ id, userID string }
		owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (owner, error) {
			var o owner
			return o, r.Scan(&o.id, &o.userID)
		})
		if err != nil {
			return fmt.Errorf("find integrations: %w", store.Translate(err))
		}
		for _, o := range owners {
			i, err := integration.Get(ctx, tx, o.userID, o.id)
			if err != nil {
				return err
			}
			if err := deleteIntegration(ctx, tx, i, deletionMessage); err != nil {
				return err
			}
			deleted = append(deleted, i)
		}
		for _, table := range []string{"integration_imports", "integration_pushes"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE provider = $1 AND external_account_id = $2`,
				integration.Facebook, externalID); err != nil {
				return fmt.Errorf("delete %s: %w", table, store.Translate(err))
			}
		}
		h := sha256.Sum256([]byte(code))
		if _, err := tx.Exec(ctx, `
			INSERT INTO integration_deletions (code_hash, provider, status, completed_at)
			VALUES ($1, $2, 'completed', now())`, h[:], integration.Facebook); err != nil {
			return fmt.Errorf("record deletion: %w", store.Translate(err))
		}
		return nil
	})
	return deleted, err
}

// statusURL is the public URL of the request's status page.
func (s *server) statusURL(r *http.Request, code string) string {
	base := strings.TrimRight(s.publicURL, "/")
	if base == "" {
		scheme := r.Header.Get("X-Forwarded-Proto")
		if scheme != "http" && scheme != "https" {
			scheme = "https"
		}
		host := r.Header.Get("X-Forwarded-Host")
		if host == "" {
			host = r.Host
		}
		base = scheme + "://" + host
	}
	return base + basePath + deletionStatusPath + url.PathEscape(code)
}

type deletionStatus struct {
	ConfirmationCode string     `json:"confirmation_code"`
	Status           string     `json:"status"`
	Message          string     `json:"message"`
	RequestedAt      time.Time  `json:"requested_at"`
	CompletedAt      *time.Time `json:"completed_at"`
}

// deletionStatusMessage explains a completed request to the person who made it.
const deletionStatusMessage = "Your request was received and carried out: this diary service deleted the Facebook " +
	"access token and every record it kept from your Facebook account (account id and name, the ids of imported " +
	"and published posts). Entries a diary user had already imported into their own diary are that user's " +
	"encrypted entries and were not read or changed."

// dataDeletionStatus shows the status of a data deletion request by its confirmation code
// (public: the code is the credential, and the answer names no one).
func (s *server) dataDeletionStatus(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if len(code) != 32 {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	h := sha256.Sum256([]byte(code))
	st := deletionStatus{ConfirmationCode: code, Message: deletionStatusMessage}
	err := s.svc.DB.QueryRow(r.Context(), `
		SELECT status, requested_at, completed_at FROM integration_deletions WHERE code_hash = $1`, h[:]).
		Scan(&st.Status, &st.RequestedAt, &st.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		httpapi.Fail(w, r, httpapi.ErrNotFound)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("integrations: deletion status: %w", store.Translate(err)))
		return
	}
	st.RequestedAt = st.RequestedAt.UTC()
	if st.CompletedAt != nil {
		t := st.CompletedAt.UTC()
		st.CompletedAt = &t
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
}
