package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/outage"
)

// The purposes bound into the associated data of each wrapped master key (the X25519
// private key's is crypto.PurposePrivateKeyWrap), so a wrapped key cannot be moved to
// another user, row or role. Whoever unwraps these keys later
// (password change, account recovery, a job opening sealed content) must use the same
// values.
const (
	// purposePasswordWrap: the master key sealed under Argon2id(password, users.kdf_salt);
	// AD{Owner: user id, Record: user id}.
	purposePasswordWrap = "master-key/password"
	// purposeRecoveryWrap: the master key sealed under crypto.RecoveryKey(code,
	// recovery_codes.salt); AD{Owner: user id, Record: recovery code row id}.
	purposeRecoveryWrap = "master-key/recovery"
)

// How long a request queues for a free slot of each bound before it is told to come back
// later (503 with Retry-After), so a login storm sheds load instead of piling up. bcrypt
// (about 0.3 s a check) is the slower step and comes first, so its queue is the one that
// grows; Argon2id (about 0.15 s) is fed no faster than bcrypt lets logins through. A login
// waits for both in turn; with the work itself (a bcrypt and an Argon2id, and a few
// storage calls, allowed workAllowance) they must fit in platform.RequestBudget, which the
// gateway's UPSTREAM_TIMEOUT exceeds (TestRequestBudget).
const (
	bcryptWait    = 10 * time.Second
	kdfWait       = 5 * time.Second
	workAllowance = 5 * time.Second
)

// busy gives a wait for a bcrypt or Argon2id slot that ran out (an outage, from the
// crypto bound) the client detail of errBusy.
func busy(err error) error {
	if errors.Is(err, outage.ErrUnavailable) {
		return fmt.Errorf("%w: %w", errBusy, err)
	}
	return err
}

// recoveryCodeCount is how many recovery codes each user receives at signup.
const recoveryCodeCount = 10

// uceKeys are what signup stores for a uce user: nothing in them is usable without the
// password or a recovery code.
type uceKeys struct {
	kdfSalt           []byte
	wrappedMasterKey  []byte
	publicKey         []byte
	wrappedPrivateKey []byte
}

// newUCEKeys wraps masterKey under Argon2id(password) and generates the user's X25519
// key pair with the private half wrapped under masterKey.
func newUCEKeys(ctx context.Context, kdf *crypto.KDF, userID, password string, masterKey []byte) (uceKeys, error) {
	var k uceKeys
	var err error
	if k.kdfSalt, err = crypto.NewSalt(); err != nil {
		return k, fmt.Errorf("auth: new uce keys: %w", err)
	}
	if k.wrappedMasterKey, err = wrapUnderPassword(ctx, kdf, userID, password, k.kdfSalt, masterKey); err != nil {
		return k, fmt.Errorf("auth: new uce keys: %w", err)
	}
	pub, priv, err := crypto.GenerateX25519()
	if err != nil {
		return k, fmt.Errorf("auth: new uce keys: %w", err)
	}
	defer clear(priv)
	k.publicKey = pub
	// The wrap of the private key lives in shared/crypto: intake redemption unwraps it.
	k.wrappedPrivateKey, err = crypto.WrapPrivateKey(masterKey, userID, priv)
	if err != nil {
		return k, fmt.Errorf("auth: new uce keys: wrap private key: %w", err)
	}
	return k, nil
}

func wrapUnderPassword(ctx context.Context, kdf *crypto.KDF, userID, password string, salt, masterKey []byte) ([]byte, error) {
	kek, err := kdf.Derive(ctx, []byte(password), salt)
	if err != nil {
		return nil, fmt.Errorf("wrap master key: %w", err)
	}
	defer clear(kek)
	wrapped, err := crypto.Seal(kek, masterKey, crypto.AD{Owner: userID, Record: userID, Purpose: purposePasswordWrap})
	if err != nil {
		return nil, fmt.Errorf("wrap master key: %w", err)
	}
	return wrapped, nil
}

// unwrapMasterKey opens a uce user's master key with the password, which the caller has
// already checked against the bcrypt hash.
func unwrapMasterKey(ctx context.Context, kdf *crypto.KDF, u user, password string) ([]byte, error) {
	kek, err := kdf.Derive(ctx, []byte(password), u.KDFSalt)
	if err != nil {
		return nil, fmt.Errorf("auth: unwrap master key: %w", err)
	}
	defer clear(kek)
	key, err := crypto.Open(kek, u.WrappedMasterKey, crypto.AD{Owner: u.ID, Record: u.ID, Purpose: purposePasswordWrap})
	if err != nil {
		return nil, fmt.Errorf("auth: unwrap master key: %w", err)
	}
	return key, nil
}

// newRecoveryCodes returns fresh codes for the user and the rows that store them: the
// hash of each code, and for a uce user (masterKey not nil) the master key wrapped under
// a key derived from that code.
func newRecoveryCodes(userID string, masterKey []byte) ([]string, []recoveryCode, error) {
	codes, err := crypto.NewRecoveryCodes(recoveryCodeCount)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: new recovery codes: %w", err)
	}
	rows := make([]recoveryCode, len(codes))
	for i, code := range codes {
		row := recoveryCode{ID: uuid.NewString(), UserID: userID, CodeHash: crypto.HashRecoveryCode(code)}
		if masterKey != nil {
			if row.Salt, err = crypto.NewSalt(); err != nil {
				return nil, nil, fmt.Errorf("auth: new recovery codes: %w", err)
			}
			wrapKey, err := crypto.RecoveryKey(code, row.Salt)
			if err != nil {
				return nil, nil, fmt.Errorf("auth: new recovery codes: %w", err)
			}
			row.WrappedMasterKey, err = crypto.Seal(wrapKey, masterKey,
				crypto.AD{Owner: userID, Record: row.ID, Purpose: purposeRecoveryWrap})
			clear(wrapKey)
			if err != nil {
				return nil, nil, fmt.Errorf("auth: new recovery codes: wrap master key: %w", err)
			}
		}
		rows[i] = row
	}
	return codes, rows, nil
}

// recoveryMasterKey opens a uce user's master key with a recovery code (already matched
// by its hash to the row code): the code derives the key of that row's own wrap.
func recoveryMasterKey(userID string, code recoveryCode, recoveryCode string) ([]byte, error) {
	if len(code.Salt) == 0 || len(code.WrappedMasterKey) == 0 {
		return nil, errors.New("auth: recovery master key: the code holds no wrap of the master key")
	}
	wrapKey, err := crypto.RecoveryKey(recoveryCode, code.Salt)
	if err != nil {
		return nil, fmt.Errorf("auth: recovery master key: %w", err)
	}
	defer clear(wrapKey)
	key, err := crypto.Open(wrapKey, code.WrappedMasterKey,
		crypto.AD{Owner: userID, Record: code.ID, Purpose: purposeRecoveryWrap})
	if err != nil {
		return nil, fmt.Errorf("auth: recovery master key: %w", err)
	}
	return key, nil
}
