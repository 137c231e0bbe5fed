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

// emailRegistered reports whether a user has the email, case-insensitively.
func emailRegistered(ctx context.Context, db store.DBTX, email string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))`, email).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("auth: email registered: %w", store.Translate(err))
	}
	return exists, nil
}

// userByEmail finds a user by email, case-insensitively (the users_email_key index).
func userByEmail(ctx context.Context, db store.DBTX, email string) (user, error) {
	rows, err := db.Query(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, email)
	if err != nil {
		return user{}, fmt.Errorf("auth: user by email: %w", store.Translate(err))
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[user])
	if err != nil {
		return user{}, fmt.Errorf("auth: user by email: %w", store.Translate(err))
	}
	return u, nil
}

// userByID finds the user with the id.
func userByID(ctx context.Context, db store.DBTX, id string) (user, error) {
	rows, err := db.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if err != nil {
		return user{}, fmt.Errorf("auth: user by id: %w", store.Translate(err))
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[user])
	if err != nil {
		return user{}, fmt.Errorf("auth: user by id: %w", store.Translate(err))
	}
	return u, nil
}
