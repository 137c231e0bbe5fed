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
			WHERE u.id = rc.user_id AND lower(u.email) = lower($1) AND u.deleted_at IS NULL
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

// unusedRecoveryCode finds the live user with the email and that user's unused code with
// the hash. An unknown email, a wrong code and a spent one are all store.ErrNotFound.
func unusedRecoveryCode(ctx context.Context, db store.DBTX, email string, codeHash []byte) (user, recoveryCode, error) {
	u, err := userByEmail(ctx, db, email)
	if err != nil {
		return user{}, recoveryCode{}, err
	}
	c := recoveryCode{UserID: u.ID, CodeHash: codeHash}
	err = db.QueryRow(ctx, `
		SELECT id::text, salt, wrapped_master_key FROM recovery_codes
		WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
		u.ID, codeHash).Scan(&c.ID, &c.Salt, &c.WrappedMasterKey)
	if err != nil {
		return user{}, recoveryCode{}, fmt.Errorf("auth: unused recovery code: %w", store.Translate(err))
	}
	return u, c, nil
}

// spendRecoveryCodeByID marks the user's code id used, in the caller's transaction, and
// returns how many unused codes the user has left. A code spent meanwhile is
// store.ErrNotFound: of two attempts with one code, one wins.
func spendRecoveryCodeByID(ctx context.Context, tx pgx.Tx, userID, codeID string) (remaining int, err error) {
	tag, err := tx.Exec(ctx, `
		UPDATE recovery_codes SET used_at = now() WHERE id = $1 AND user_id = $2 AND used_at IS NULL`,
		codeID, userID)
	if err != nil {
		return 0, fmt.Errorf("auth: spend recovery code: %w", store.Translate(err))
	}
	if tag.RowsAffected() != 1 {
		return 0, fmt.Errorf("auth: spend recovery code: %w", store.ErrNotFound)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
		userID).Scan(&remaining); err != nil {
		return 0, fmt.Errorf("auth: spend recovery code: %w", store.Translate(err))
	}
	return remaining, nil
}

// replaceRecoveryCodes voids every code of the user (uce: with its wrap of the master key)
// and stores codes instead, in the caller's transaction.
func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, userID string, codes []recoveryCode) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("auth: replace recovery codes: %w", store.Translate(err))
	}
	return insertRecoveryCodes(ctx, tx, codes)
}
