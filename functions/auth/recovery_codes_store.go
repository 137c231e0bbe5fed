package auth

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/store"
)

// recoveryCode is a row of the recovery_codes table. Only the hash of the code is stored;
// for uce users the code also wraps the master key, under a key derived with Salt.
type recoveryCode struct {
	ID               string
	UserID           string
	CodeHash         []byte
	Salt             []byte
	WrappedMasterKey []byte
}

// insertRecoveryCodes stores a new user's codes in one statement.
func insertRecoveryCodes(ctx context.Context, db store.DBTX, codes []recoveryCode) error {
	ids := make([]string, len(codes))
	users := make([]string, len(codes))
	hashes := make([][]byte, len(codes))
	salts := make([][]byte, len(codes))
	wrapped := make([][]byte, len(codes))
	for i, c := range codes {
		ids[i], users[i], hashes[i], salts[i], wrapped[i] = c.ID, c.UserID, c.CodeHash, c.Salt, c.WrappedMasterKey
	}
	_, err := db.Exec(ctx, `
		INSERT INTO recovery_codes (id, user_id, code_hash, salt, wrapped_master_key)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[])`,
		ids, users, hashes, salts, wrapped)
	if err != nil {
		return fmt.Errorf("auth: insert recovery codes: %w", store.Translate(err))
	}
	return nil
}

// spendRecoveryCode marks the unused code with the hash, belonging to the user with the
// email, as used, and returns how many unused codes the user has left. The UPDATE's
// "used_at IS NULL" makes two concurrent attempts with one code spend it once: the second
// finds no row. A code that is unknown, spent or someone else's is store.ErrNotFound.
func spendRecoveryCode(ctx context.Context, pool *pgxpool.Pool, email string, codeHash []byte) (remaining int, err error) {
	err = store.Transact(ctx, pool, func(tx pgx.Tx) error {
		var userID string
		err := tx.QueryRow(ctx, `
			UPDATE recovery_codes AS rc SET used_at = now()
			FROM users AS u
			WHERE u.id = rc.user_id AND lower(u.email) = lower($1)
				AND rc.code_hash = $2 AND rc.used_at IS NULL
			RETURNING rc.user_id::text`,
			email, codeHash).Scan(&userID)
		if err != nil {
			return store.Translate(err)
		}
		return store.Translate(tx.QueryRow(ctx, `
			SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
			userID).Scan(&remaining))
	})
	if err != nil {
		return 0, fmt.Errorf("auth: spend recovery code: %w", err)
	}
	return remaining, nil
}
