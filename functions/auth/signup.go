package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/store"
)

// Password and email bounds. The upper bound on passwords keeps the pre-hash and Argon2id
// inputs sane; bcrypt itself sees a fixed-size pre-hash (see crypto.Passwords).
const (
	minPasswordChars = 8
	maxPasswordBytes = 1024
	maxEmailBytes    = 254
)

type signupRequest struct {
	Email          string `json:"email"`
	Password       string `json:"password"`
	EncryptionTier string `json:"encryption_tier"`
	// PublicKey is a pointer to tell a missing key from an empty one.
	PublicKey *string `json:"public_key"`
}

type signupResponse struct {
	sessionJSON
	RecoveryCodes []string `json:"recovery_codes"`
}

// validate checks the request and returns the decoded e2e public key.
func (req *signupRequest) validate() ([]byte, error) {
	fields := map[string]string{}
	req.Email = strings.TrimSpace(req.Email)
	if !validEmail(req.Email) {
		fields["email"] = "must be a valid email address"
	}
	switch {
	case utf8.RuneCountInString(req.Password) < minPasswordChars:
		fields["password"] = fmt.Sprintf("must be at least %d characters", minPasswordChars)
	case len(req.Password) > maxPasswordBytes:
		fields["password"] = fmt.Sprintf("must be at most %d bytes", maxPasswordBytes)
	}
	var publicKey []byte
	switch req.EncryptionTier {
	case "e2e":
		if req.PublicKey == nil || *req.PublicKey == "" {
			fields["public_key"] = "is required for the e2e tier: the base64 X25519 public key your client generated"
			break
		}
		key, err := base64.StdEncoding.DecodeString(*req.PublicKey)
		if err != nil || crypto.ValidateX25519PublicKey(key) != nil {
			fields["public_key"] = "must be the standard base64 of a valid 32-byte X25519 public key"
			break
		}
		publicKey = key
	case "uce":
		if req.PublicKey != nil {
			fields["public_key"] = "is not accepted for the uce tier: the server generates the key pair"
		}
	default:
		fields["encryption_tier"] = `must be "e2e" or "uce"`
	}
	if len(fields) > 0 {
		return nil, httpapi.Invalid(fields)
	}
	return publicKey, nil
}

// validEmail accepts a bare address ("a@example.com"), not a display-name form.
func validEmail(email string) bool {
	if email == "" || len(email) > maxEmailBytes {
		return false
	}
	addr, err := mail.ParseAddress(email)
	return err == nil && addr.Name == "" && addr.Address == email
}

// signup creates an account and logs it in. For uce the server makes a random master key
// and stores it only wrapped: under Argon2id of the password and under each recovery
// code; it also makes the user's X25519 pair, the private half wrapped by the master key.
// For e2e the client's public key is stored and the server holds no key at all. Signups
// are rate limited per client address.
func (s *server) signup(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req signupRequest
	if err := httpapi.DecodeJSON(w, r, &req, bodyLimit); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	publicKey, err := req.validate()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// Counted once the request is valid, before the email check and the key work: those
	// are what a flood of signups would exploit.
	client := s.clients.Client(r)
	if err := s.limiter.allowSignup(ctx, client); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// A taken email is refused before the costly key work; the unique index still decides
	// between two signups racing for one email.
	taken, err := emailRegistered(ctx, s.db, req.Email)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: signup: %w", err))
		return
	}
	if taken {
		httpapi.Fail(w, r, errEmailTaken)
		return
	}
	u := user{ID: uuid.NewString(), Email: req.Email, Tier: req.EncryptionTier, PublicKey: publicKey}
	var masterKey []byte
	if u.Tier == "uce" {
		if masterKey, err = crypto.NewKey(); err != nil {
			httpapi.Fail(w, r, fmt.Errorf("auth: signup: %w", err))
			return
		}
		defer clear(masterKey)
		kdfCtx, cancel := context.WithTimeout(ctx, s.kdfWait)
		keys, err := newUCEKeys(kdfCtx, s.kdf, u.ID, req.Password, masterKey)
		cancel()
		if err != nil {
			httpapi.Fail(w, r, busy(err))
			return
		}
		u.KDFSalt, u.WrappedMasterKey = keys.kdfSalt, keys.wrappedMasterKey
		u.PublicKey, u.WrappedPrivateKey = keys.publicKey, keys.wrappedPrivateKey
	}
	codes, codeRows, err := newRecoveryCodes(u.ID, masterKey)
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: signup: %w", err))
		return
	}
	hashCtx, cancel := context.WithTimeout(ctx, s.bcryptWait)
	u.PasswordHash, err = s.passwords.Hash(hashCtx, req.Password)
	cancel()
	if err != nil {
		httpapi.Fail(w, r, busy(fmt.Errorf("auth: signup: %w", err)))
		return
	}
	err = store.Transact(ctx, s.db, func(tx pgx.Tx) error {
		created, err := insertUser(ctx, tx, u)
		if err != nil {
			return err
		}
		u.CreatedAt = created
		return insertRecoveryCodes(ctx, tx, codeRows)
	})
	if errors.Is(err, errEmailExists) {
		httpapi.Fail(w, r, errEmailTaken)
		return
	}
	if err != nil {
		httpapi.Fail(w, r, fmt.Errorf("auth: signup: %w", err))
		return
	}
	// The address the account was made from is its owner's: the failure ceiling does not
	// hold it back. The account exists either way, so a failure here only loses that.
	if err := s.limiter.remember(ctx, u.Email, client); err != nil {
		httpapi.Logger(ctx).Warn("signup: could not remember the signup address", "error", err.Error())
	}
	pair, err := s.openSession(ctx, u, masterKey, r.UserAgent())
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.Logger(ctx).Info("user signed up", "user_id", u.ID, "encryption_tier", u.Tier)
	httpapi.WriteJSON(w, http.StatusCreated, signupResponse{
		sessionJSON:   sessionJSON{User: userView(u), tokenPair: pair},
		RecoveryCodes: codes,
	})
}
