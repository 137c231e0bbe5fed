// Package integration provides a user's connected outside accounts (the integrations
// table, migration 0010) to the two functions that work with them: the integrations
// function, which owns the table (connect, list, disconnect, the data deletion callback),
// and the sync consumer (functions/fbsync), which reads an integration's token and
// records what a sync did (cursor, status, the posts it imported). The rules both follow
// live here once: how a provider token is sealed at rest (INTEGRATION_TOKEN_KEY, the
// associated data binding user, integration and purpose), which status stops a sync, how
// the pending pull job ends, and the dedupe of imported posts.
package integration

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/store"
)

// Providers and statuses, as the API shows them.
const (
	Facebook = "facebook"

	// Active integrations are synced.
	Active = "active"
	// NeedsReauth integrations have a token the provider refused (expired, revoked): no
	// sync until the user connects the account again.
	NeedsReauth = "needs_reauth"
)

// JobKind is the kind of the job a pull runs under (GET /api/v1/jobs?kind=facebook_pull).
const JobKind = "facebook_pull"

// ErrNotFound is returned for an integration that is not the user's (or does not exist).
var ErrNotFound = fmt.Errorf("integration: not found: %w", store.ErrNotFound)

// Integration is one connected account, as stored. The token stays sealed in TokenCT
// until Tokens.Open is asked for it.
type Integration struct {
	ID                string
	UserID            string
	Provider          string
	ExternalAccountID string
	DisplayName       string
	Status            string
	TokenCT           []byte
	TokenExpiresAt    *time.Time
	SyncCursor        *time.Time
	SyncNotBefore     *time.Time
	PendingJobID      *string
	ConnectedAt       time.Time
	LastSyncedAt      *time.Time
}

// columns are the integrations columns every read selects, in scan order.
const columns = `id, user_id, provider, external_account_id, display_name, status, access_token_ct,
	token_expires_at, sync_cursor, sync_not_before, pending_job_id, connected_at, last_synced_at`

func scan(row pgx.Row) (Integration, error) {
	var i Integration
	err := row.Scan(&i.ID, &i.UserID, &i.Provider, &i.ExternalAccountID, &i.DisplayName, &i.Status, &i.TokenCT,
		&i.TokenExpiresAt, &i.SyncCursor, &i.SyncNotBefore, &i.PendingJobID, &i.ConnectedAt, &i.LastSyncedAt)
	return i, err
}

// Tokens seals and opens provider tokens under INTEGRATION_TOKEN_KEY.
type Tokens struct {
	key []byte
}

// NewTokens returns the sealer for INTEGRATION_TOKEN_KEY, the standard base64 of 32
// bytes. The error names the variable, never its value.
func NewTokens(encoded string) (*Tokens, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil || len(key) != crypto.KeySize {
		return nil, errors.New("integration: INTEGRATION_TOKEN_KEY must be the standard base64 of 32 bytes")
	}
	return &Tokens{key: key}, nil
}

// tokenAD binds a sealed token to its user, its integration row and what it is, so a
// ciphertext copied to another row or user does not open.
func tokenAD(userID, integrationID, provider string) crypto.AD {
	return crypto.AD{Owner: userID, Record: integrationID, Purpose: "integration." + provider + ".user_token"}
}

// Seal seals the user access token of an integration.
func (t *Tokens) Seal(userID, integrationID, provider, token string) ([]byte, error) {
	ct, err := crypto.Seal(t.key, []byte(token), tokenAD(userID, integrationID, provider))
	if err != nil {
		return nil, fmt.Errorf("integration: seal token: %w", err)
	}
	return ct, nil
}

// Open returns the integration's user access token.
func (t *Tokens) Open(i Integration) (string, error) {
	pt, err := crypto.Open(t.key, i.TokenCT, tokenAD(i.UserID, i.ID, i.Provider))
	if err != nil {
		return "", fmt.Errorf("integration: open token of %s: %w", i.ID, err)
	}
	return string(pt), nil
}

// Get reads the user's integration. Another user's is ErrNotFound.
func Get(ctx context.Context, db store.DBTX, userID, id string) (Integration, error) {
	i, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM integrations WHERE id = $1 AND user_id = $2`, id, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Integration{}, ErrNotFound
	}
	if err != nil {
		return Integration{}, fmt.Errorf("integration: get: %w", store.Translate(err))
	}
	return i, nil
}

// Latest reads the user's most recently connected integration with the provider (the one
// push and pages use); ErrNotFound when there is none.
func Latest(ctx context.Context, db store.DBTX, userID, provider string) (Integration, error) {
	i, err := scan(db.QueryRow(ctx, `
		SELECT `+columns+` FROM integrations WHERE user_id = $1 AND provider = $2
		ORDER BY connected_at DESC, id DESC LIMIT 1`, userID, provider))
	if errors.Is(err, pgx.ErrNoRows) {
		return Integration{}, ErrNotFound
	}
	if err != nil {
		return Integration{}, fmt.Errorf("integration: latest: %w", store.Translate(err))
	}
	return i, nil
}

// Due lists up to limit active integrations of the provider whose sync is not held back
// (sync_not_before passed), with ids after afterID, in id order: the hourly sweep.
func Due(ctx context.Context, db store.DBTX, provider string, now time.Time, afterID string, limit int) ([]Integration, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := db.Query(ctx, `
		SELECT `+columns+` FROM integrations
		WHERE provider = $1 AND status = 'active' AND id > $2
		  AND (sync_not_before IS NULL OR sync_not_before <= $3)
		ORDER BY id LIMIT $4`, provider, afterID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("integration: due: %w", store.Translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Integration, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("integration: due: %w", store.Translate(err))
	}
	return out, nil
}

// ReauthMessage is what a pull job that stopped on a refused token tells the user.
const ReauthMessage = "Facebook no longer accepts this connection (the access expired or was removed). Connect Facebook again to resume syncing."

// MarkNeedsReauth records that the provider refused the integration's token: the status
// becomes needs_reauth, which stops its sync until the user connects again, and its
// pending pull job fails with ReauthMessage.
func MarkNeedsReauth(ctx context.Context, db store.DBTX, i Integration) error {
	var pending *string
	err := db.QueryRow(ctx, `
		UPDATE integrations AS n SET status = 'needs_reauth', pending_job_id = NULL, updated_at = now()
		FROM integrations AS o
		WHERE n.id = $1 AND n.user_id = $2 AND o.id = n.id
		RETURNING o.pending_job_id`, i.ID, i.UserID).Scan(&pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("integration: mark needs_reauth: %w", store.Translate(err))
	}
	if pending != nil {
		if err := job.Fail(ctx, db, *pending, ReauthMessage); err != nil {
			return fmt.Errorf("integration: mark needs_reauth: %w", err)
		}
	}
	metrics.IntegrationNeedsReauth(i.Provider)
	return nil
}

// HoldBack records that the provider asked for a pause: no sync of the integration before
// until. Its pending pull job stays open; the sync after the pause finishes it.
func HoldBack(ctx context.Context, db store.DBTX, i Integration, until time.Time) error {
	if _, err := db.Exec(ctx, `
		UPDATE integrations SET sync_not_before = GREATEST(COALESCE(sync_not_before, $3), $3), updated_at = now()
		WHERE id = $1 AND user_id = $2`, i.ID, i.UserID, until); err != nil {
		return fmt.Errorf("integration: hold back: %w", store.Translate(err))
	}
	return nil
}

// QueuePull gives the integration a pending pull job, in tx: the one already queued or
// running if there is one (queued false), else a new queued job (queued true). The sync
// consumer finishes it (FinishSync, MarkNeedsReauth); the caller emits the event after
// commit.
func QueuePull(ctx context.Context, tx pgx.Tx, i Integration) (jobID string, queued bool, err error) {
	var pending *string
	err = tx.QueryRow(ctx, `
		SELECT j.id FROM integrations n
		LEFT JOIN jobs j ON j.id = n.pending_job_id AND j.status IN ('queued', 'running')
		WHERE n.id = $1 AND n.user_id = $2
		FOR UPDATE OF n`, i.ID, i.UserID).Scan(&pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, ErrNotFound
	}
	if err != nil {
		return "", false, fmt.Errorf("integration: queue pull: %w", store.Translate(err))
	}
	if pending != nil {
		return *pending, false, nil
	}
	jobID, err = job.Queue(ctx, tx, i.UserID, JobKind)
	if err != nil {
		return "", false, fmt.Errorf("integration: queue pull: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE integrations SET pending_job_id = $2, updated_at = now() WHERE id = $1`, i.ID, jobID); err != nil {
		return "", false, fmt.Errorf("integration: queue pull: %w", store.Translate(err))
	}
	return jobID, true, nil
}

// SyncResult is what one sync of an integration did.
type SyncResult struct {
	// Cursor is the creation time of the newest post seen; nil when none was.
	Cursor   *time.Time
	Imported int
	Skipped  int
}

// FinishSync records a completed sync: the cursor moves forward (never back), the last
// sync time is now, the hold-back is cleared, and the pending pull job (if any) succeeds
// with the counts. Call it in one transaction with the sync's last write.
func FinishSync(ctx context.Context, db store.DBTX, i Integration, res SyncResult) error {
	var pending *string
	err := db.QueryRow(ctx, `
		UPDATE integrations AS n SET
			sync_cursor = GREATEST(n.sync_cursor, $3::timestamptz),
			last_synced_at = now(), sync_not_before = NULL, pending_job_id = NULL, updated_at = now()
		FROM integrations AS o
		WHERE n.id = $1 AND n.user_id = $2 AND n.status = 'active' AND o.id = n.id
		RETURNING o.pending_job_id`, i.ID, i.UserID, res.Cursor).Scan(&pending)
	if errors.Is(err, pgx.ErrNoRows) {
		// Disconnected or refused meanwhile: nothing to record.
		return nil
	}
	if err != nil {
		return fmt.Errorf("integration: finish sync: %w", store.Translate(err))
	}
	if pending != nil {
		if _, err := job.Start(ctx, db, i.UserID, *pending); err != nil {
			return fmt.Errorf("integration: finish sync: %w", err)
		}
		if err := job.Succeed(ctx, db, *pending, map[string]any{
			"integration_id": i.ID, "imported": res.Imported, "skipped": res.Skipped,
		}); err != nil {
			return fmt.Errorf("integration: finish sync: %w", err)
		}
	}
	return nil
}

// ClaimImport records that the post of the integration's account is being imported, in
// the transaction that inserts the entry (LinkImport then names the entry). It reports false when the post was
// imported before (by this or an earlier connection of the same account): the caller then
// inserts nothing, so a redelivered event or an overlapping page imports nothing twice.
func ClaimImport(ctx context.Context, tx pgx.Tx, i Integration, externalPostID string) (bool, error) {
	tag, err := tx.Exec(ctx, `
		INSERT INTO integration_imports (user_id, provider, external_account_id, external_post_id, entry_id)
		VALUES ($1, $2, $3, $4, NULL)
		ON CONFLICT DO NOTHING`, i.UserID, i.Provider, i.ExternalAccountID, externalPostID)
	if err != nil {
		return false, fmt.Errorf("integration: claim import: %w", store.Translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// LinkImport sets the entry of a claimed import, once the entry row exists (the foreign
// key needs it first).
func LinkImport(ctx context.Context, tx pgx.Tx, i Integration, externalPostID, entryID string) error {
	if _, err := tx.Exec(ctx, `
		UPDATE integration_imports SET entry_id = $5
		WHERE user_id = $1 AND provider = $2 AND external_account_id = $3 AND external_post_id = $4`,
		i.UserID, i.Provider, i.ExternalAccountID, externalPostID, entryID); err != nil {
		return fmt.Errorf("integration: link import: %w", store.Translate(err))
	}
	return nil
}

// FailPending fails the integration's pending pull job (if any) with message, words for
// the user, and clears it.
func FailPending(ctx context.Context, db store.DBTX, i Integration, message string) error {
	var pending *string
	err := db.QueryRow(ctx, `
		UPDATE integrations AS n SET pending_job_id = NULL, updated_at = now()
		FROM integrations AS o
		WHERE n.id = $1 AND n.user_id = $2 AND o.id = n.id
		RETURNING o.pending_job_id`, i.ID, i.UserID).Scan(&pending)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("integration: fail pending: %w", store.Translate(err))
	}
	if pending != nil {
		if err := job.Fail(ctx, db, *pending, message); err != nil {
			return fmt.Errorf("integration: fail pending: %w", err)
		}
	}
	return nil
}
