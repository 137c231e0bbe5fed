package integrations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/entryref"
	"github.com/xmojo/diary/shared/facebook"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/integration"
	"github.com/xmojo/diary/shared/store"
)

// maxMessageRunes is the longest Page post Facebook takes (63,206 characters).
const maxMessageRunes = 63206

// staleClaim is how old a push claim (a push that never recorded its post) may get before
// another push of the same entry to the same Page may take it over: longer than a push can
// take (the Graph calls' timeouts).
const staleClaimSQL = `interval '2 minutes'`

type pushRequest struct {
	EntryID string  `json:"entry_id"`
	PageID  string  `json:"page_id"`
	Message *string `json:"message"`
}

// validate checks the push for a caller of the tier (422 naming every bad field) and puts
// the entry id in its canonical form: uuid.Parse also takes spellings PostgreSQL refuses
// (urn:uuid:...), and the id goes into queries and the push record as it is.
func (req *pushRequest) validate(tier string) error {
	fields := map[string]string{}
	if id, err := uuid.Parse(req.EntryID); err != nil {
		fields["entry_id"] = "must be an entry id (UUID)"
	} else {
		req.EntryID = id.String()
	}
	if req.PageID == "" || len(req.PageID) > 128 {
		fields["page_id"] = "required: the id of a Page from GET /integrations/facebook/pages"
	}
	switch {
	case req.Message == nil && tier != "uce":
		fields["message"] = "required for e2e accounts: the server cannot read the entry, so send the text to post"
	case req.Message != nil && (*req.Message == "" || !utf8.ValidString(*req.Message)):
		fields["message"] = "must be non-empty text"
	case req.Message != nil && utf8.RuneCountInString(*req.Message) > maxMessageRunes:
		fields["message"] = fmt.Sprintf("must be at most %d characters", maxMessageRunes)
	}
	if len(fields) > 0 {
		return httpapi.Invalid(fields)
	}
	return nil
}

type pushResponse struct {
	ExternalPostID string `json:"external_post_id"`
}

// alreadyPushed is the 409 of an entry pushed to the Page before: the error shape with
// the earlier post's id, so the client can link to it.
type alreadyPushed struct {
	Detail         string `json:"detail"`
	Code           string `json:"code"`
	ExternalPostID string `json:"external_post_id"`
}

// push posts an entry to a Facebook Page the caller manages. A uce entry's text is
// decrypted with the session's master key (unless the client sends its own message); an
// e2e client must send message, since the server cannot read the entry. The text goes to
// Facebook only: it is neither stored nor logged here.
func (s *server) push(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := httpapi.CallerOf(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var req pushRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if err := req.validate(p.Tier); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	message, err := s.pushText(ctx, p, req)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	i, tok, err := s.active(ctx, p.UserID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	earlier, err := s.claimPush(ctx, i, req.EntryID, req.PageID)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if earlier != "" {
		httpapi.WriteJSON(w, http.StatusConflict, alreadyPushed{
			Detail: "this entry was pushed to that Page already", Code: "already_pushed", ExternalPostID: earlier,
		})
		return
	}
	postID, err := s.publish(ctx, &i, tok, req.PageID, message)
	if err != nil {
		if rerr := s.releasePush(context.WithoutCancel(ctx), i, req.EntryID, req.PageID); rerr != nil {
			httpapi.Logger(ctx).Error("push: releasing the claim failed", "entry_id", req.EntryID, "error", rerr.Error())
		}
		httpapi.Fail(w, r, err)
		return
	}
	if _, err := s.svc.DB.Exec(context.WithoutCancel(ctx), `
		UPDATE integration_pushes SET external_post_id = $5
		WHERE user_id = $1 AND entry_id = $2 AND provider = $3 AND page_id = $4`,
		p.UserID, req.EntryID, integration.Facebook, req.PageID, postID); err != nil {
		// The post exists at Facebook: answer it, and log that the record is missing.
		httpapi.Logger(ctx).Error("push: recording the post failed", "entry_id", req.EntryID, "error", store.Translate(err).Error())
	}
	httpapi.WriteJSON(w, http.StatusCreated, pushResponse{ExternalPostID: postID})
}

// pushText is the text to post: the client's message, or the uce entry's title and
// content. The entry must be one of the caller's live entries either way.
func (s *server) pushText(ctx context.Context, p httpapi.Caller, req pushRequest) (string, error) {
	body, err := entryref.Body(ctx, s.svc.DB, p.UserID, req.EntryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", httpapi.ErrNotFound
	case errors.Is(err, entryref.ErrNoBody) && req.Message == nil:
		return "", errEntryPending
	case err != nil && !errors.Is(err, entryref.ErrNoBody):
		return "", fmt.Errorf("integrations: push: %w", err)
	}
	if req.Message != nil {
		return *req.Message, nil
	}
	key, err := p.MasterKey()
	if err != nil {
		return "", err
	}
	title, content, err := entrybody.Open(key, p.UserID, req.EntryID, body.BodyVersion, body.Sealed)
	if err != nil {
		return "", fmt.Errorf("integrations: push: entry %s: %w", req.EntryID, err)
	}
	text := content
	if title != nil && *title != "" {
		text = *title + "\n\n" + content
	}
	if utf8.RuneCountInString(text) > maxMessageRunes {
		return "", httpapi.Invalid(map[string]string{"entry_id": fmt.Sprintf("the entry is longer than a Facebook post may be (%d characters): send a shorter message", maxMessageRunes)})
	}
	return text, nil
}

// claimPush records that the entry is being pushed to the Page, before Facebook is called,
// so two pushes at once cannot both post. It returns the earlier post's id when the entry
// went to the Page before; a claim left by a push that died is taken over once stale.
func (s *server) claimPush(ctx context.Context, i integration.Integration, entryID, pageID string) (string, error) {
	tag, err := s.svc.DB.Exec(ctx, `
		INSERT INTO integration_pushes (user_id, entry_id, provider, external_account_id, page_id)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, entry_id, provider, page_id) DO UPDATE
			SET created_at = now(), external_account_id = EXCLUDED.external_account_id
			WHERE integration_pushes.external_post_id IS NULL
			  AND integration_pushes.created_at < now() - `+staleClaimSQL,
		i.UserID, entryID, integration.Facebook, i.ExternalAccountID, pageID)
	if err != nil {
		return "", fmt.Errorf("integrations: claim push: %w", store.Translate(err))
	}
	if tag.RowsAffected() == 1 {
		return "", nil
	}
	var earlier *string
	err = s.svc.DB.QueryRow(ctx, `
		SELECT external_post_id FROM integration_pushes
		WHERE user_id = $1 AND entry_id = $2 AND provider = $3 AND page_id = $4`,
		i.UserID, entryID, integration.Facebook, pageID).Scan(&earlier)
	if err != nil {
		return "", fmt.Errorf("integrations: claim push: %w", store.Translate(err))
	}
	if earlier == nil {
		return "", errPushInProgress
	}
	return *earlier, nil
}

// releasePush drops a claim whose push failed, so the user can try again.
func (s *server) releasePush(ctx context.Context, i integration.Integration, entryID, pageID string) error {
	if _, err := s.svc.DB.Exec(ctx, `
		DELETE FROM integration_pushes
		WHERE user_id = $1 AND entry_id = $2 AND provider = $3 AND page_id = $4 AND external_post_id IS NULL`,
		i.UserID, entryID, integration.Facebook, pageID); err != nil {
		return fmt.Errorf("integrations: release push: %w", store.Translate(err))
	}
	return nil
}

// publish posts message to the Page with the Page's token, asked of Facebook now.
func (s *server) publish(ctx context.Context, i *integration.Integration, userToken, pageID, message string) (string, error) {
	pages, err := s.fb.Accounts(ctx, userToken)
	if err != nil {
		return "", s.graphFailure(ctx, i, err)
	}
	var page *facebook.Page
	for k := range pages {
		if pages[k].ID == pageID && pages[k].CanPost() {
			page = &pages[k]
		}
	}
	if page == nil {
		return "", errPageNotFound
	}
	postID, err := s.fb.PublishToPage(ctx, *page, message)
	if err != nil {
		// A Page token is refused with 190 too, but it is the Page's: the user's
		// connection stands, so it is not marked needs_reauth.
		if facebook.TokenInvalid(err) {
			return "", errPermission.Wrap(err)
		}
		return "", s.graphFailure(ctx, i, err)
	}
	return postID, nil
}
