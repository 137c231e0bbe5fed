package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/store"
)

// user is a row of the users table. The uce fields are nil for e2e users.
type user struct {
	ID           string    `db:"id"`
	Email        string    `db:"email"`
	PasswordHash string    `db:"password_hash"`
	Tier         string    `db:"encryption_tier"`
	PublicKey    []byte    `db:"public_key"`
	CreatedAt    time.Time `db:"created_at"`
	// KDFSalt is the Argon2id salt of the password wrap.
	KDFSalt []byte `db:"kdf_salt"`
	// WrappedMasterKey is the master key sealed under Argon2id(password, KDFSalt).
	WrappedMasterKey []byte `db:"wrapped_master_key"`
	// WrappedPrivateKey is the X25519 private key sealed under the master key.
	WrappedPrivateKey []byte `db:"wrapped_private_key"`
}

const userColumns = `id::text AS id, email, password_hash, encryption_tier, public_key, created_at,
	kdf_salt, wrapped_master_key, wrapped_private_key`

// errEmailExists is returned by insertUser when the email (case-insensitively) is taken.
var errEmailExists = errors.New("auth: email already registered")

// insertUser stores a new user and returns its creation time.
func insertUser(ctx context.Context, db store.DBTX, u user) (time.Time, error) {
	var created time.Time
	err := db.QueryRow(ctx, `
		INSERT INTO users (id, email, password_hash, encryption_tier, public_key,
			kdf_salt, wrapped_master_key, wrapped_private_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING created_at`,
		u.ID, u.Email, u.PasswordHash, u.Tier, u.PublicKey,
		u.KDFSalt, u.WrappedMasterKey, u.WrappedPrivateKey,
	).Scan(&created)
	if store.IsUniqueViolation(err, "users_email_key") {
		return time.Time{}, fmt.Errorf("auth: insert user: %w", errEmailExists)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("auth: insert user: %w", store.Translate(err))
	}
	return created, nil
}

// emailRegistered reports whether a live user has the email, case-insensitively (a
// deleted account's email is free at once).
func emailRegistered(ctx context.Context, db store.DBTX, email string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL)`, email).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("auth: email registered: %w", store.Translate(err))
	}
	return exists, nil
}

// userByEmail finds the live user with the email, case-insensitively (the users_email_key
// index). A deleted account is store.ErrNotFound, as for every lookup here.
func userByEmail(ctx context.Context, db store.DBTX, email string) (user, error) {
	rows, err := db.Query(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL`, email)
	if err != nil {
		return user{}, fmt.Errorf("auth: user by email: %w", store.Translate(err))
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[user])
	if err != nil {
		return user{}, fmt.Errorf("auth: user by email: %w", store.Translate(err))
	}
	return u, nil
}

// userByID finds the live user with the id.
func userByID(ctx context.Context, db store.DBTX, id string) (user, error) {
	rows, err := db.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return user{}, fmt.Errorf("auth: user by id: %w", store.Translate(err))
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[user])
	if err != nil {
		return user{}, fmt.Errorf("auth: user by id: %w", store.Translate(err))
	}
	return u, nil
}

// credentials are what a password change or reset writes: the new bcrypt hash and, for a
// uce user, the master key wrapped under the new password with its new salt (nil for e2e).
type credentials struct {
	PasswordHash     string
	KDFSalt          []byte
	WrappedMasterKey []byte
}

// setCredentials replaces the live user's password hash and password wrap. When
// currentHash is not empty it must still be the stored hash, so of two password changes
// racing only the first applies; store.ErrNotFound otherwise, or when the user is gone.
// The X25519 private key and the recovery-code wraps are under the master key, which does
// not change: nothing else is re-encrypted.
func setCredentials(ctx context.Context, db store.DBTX, userID, currentHash string, c credentials) error {
	tag, err := db.Exec(ctx, `
		UPDATE users SET password_hash = $3, kdf_salt = $4, wrapped_master_key = $5, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL AND ($2 = '' OR password_hash = $2)`,
		userID, currentHash, c.PasswordHash, c.KDFSalt, c.WrappedMasterKey)
	if err != nil {
		return fmt.Errorf("auth: set credentials: %w", store.Translate(err))
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("auth: set credentials: %w", store.ErrNotFound)
	}
	return nil
}

// sessionStillValid reports whether the user is live and still has the password hash a
// new session was opened with: a session stored after a password change, a reset or a
// deletion committed was opened with what no longer holds, and is revoked (see
// openSession).
func sessionStillValid(ctx context.Context, db store.DBTX, userID, passwordHash string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL AND password_hash = $2)`,
		userID, passwordHash).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("auth: session still valid: %w", store.Translate(err))
	}
	return ok, nil
}

// shredUser is the first step of an account deletion, in its transaction: it marks the
// live user deleted and erases what could open anything of theirs, the password hash and,
// for uce, the password wrap of the master key with its salt and the wrapped X25519
// private key; then every recovery code (and its wrap of the master key) and the e2e key
// backup. Without these the entries' ciphertext in the database, its dumps and its
// backups opens for nobody. A user already deleted (or unknown) is store.ErrNotFound.
func shredUser(ctx context.Context, tx pgx.Tx, userID string) error {
	tag, err := tx.Exec(ctx, `
		UPDATE users SET deleted_at = now(), updated_at = now(), password_hash = '',
			kdf_salt = NULL, wrapped_master_key = NULL, wrapped_private_key = NULL
		WHERE id = $1 AND deleted_at IS NULL`, userID)
	if err != nil {
		return fmt.Errorf("auth: shred user: %w", store.Translate(err))
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("auth: shred user: %w", store.ErrNotFound)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("auth: shred user: recovery codes: %w", store.Translate(err))
	}
	if _, err := tx.Exec(ctx, `DELETE FROM key_backups WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("auth: shred user: key backup: %w", store.Translate(err))
	}
	return nil
}

// lockLiveUser takes the live user's row lock for the caller's transaction, so a deletion
// cannot commit under it; a deleted (or unknown) user is store.ErrNotFound.
func lockLiveUser(ctx context.Context, tx pgx.Tx, userID string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id::text FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, userID).Scan(&id)
	if err != nil {
		return fmt.Errorf("auth: lock user: %w", store.Translate(err))
	}
	return nil
}
