package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/token"
)

// userJSON is the user as the API shows it.
type userJSON struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	EncryptionTier string    `json:"encryption_tier"`
	PublicKey      string    `json:"public_key"`
	CreatedAt      time.Time `json:"created_at"`
}

func userView(u user) userJSON {
	return userJSON{
		ID:             u.ID,
		Email:          u.Email,
		EncryptionTier: u.Tier,
		PublicKey:      base64.StdEncoding.EncodeToString(u.PublicKey),
		CreatedAt:      u.CreatedAt.UTC(),
	}
}

// tokenPair is an access token with the refresh token that renews it.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// sessionJSON answers signup and login: the user and a fresh token pair.
type sessionJSON struct {
	User userJSON `json:"user"`
	tokenPair
}

// newTokenPair signs an access token for the session and pairs it with refresh.
func (s *server) newTokenPair(sess session.Session, refresh string) (tokenPair, error) {
	access, _, err := s.issuer.Issue(sess.UserID, sess.ID, sess.Tier)
	if err != nil {
		return tokenPair{}, fmt.Errorf("auth: issue access token: %w", err)
	}
	return tokenPair{
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "bearer",
		ExpiresIn:    int(token.AccessTTL / time.Second),
	}, nil
}

// openSession starts a session for the user, holding masterKey (nil for e2e) sealed
// under the server's session key, and returns its first token pair. userAgent is the
// client's User-Agent, shown in the session list.
//
// Once stored, the session is checked against the account: a password change, a reset or
// a deletion that committed while this login was checking the old password has revoked
// every session it could list, but not this one, made after. Such a session is revoked
// here and the login answers errInvalidCredentials, as it would a moment later.
func (s *server) openSession(ctx context.Context, u user, masterKey []byte, userAgent string) (tokenPair, error) {
	sess, refresh, err := s.sessions.CreateFrom(ctx, u.ID, u.Tier, masterKey, userAgent)
	if err != nil {
		return tokenPair{}, fmt.Errorf("auth: open session: %w", err)
	}
	valid, err := sessionStillValid(ctx, s.db, u.ID, u.PasswordHash)
	if err == nil && !valid {
		err = errInvalidCredentials
	}
	if err == nil {
		var pair tokenPair
		if pair, err = s.newTokenPair(sess, refresh); err == nil {
			return pair, nil
		}
	}
	// Do not leave a session nobody should use (or can: no token was given out).
	if rerr := s.sessions.Revoke(context.WithoutCancel(ctx), sess.ID); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if errors.Is(err, errInvalidCredentials) {
		return tokenPair{}, errInvalidCredentials
	}
	return tokenPair{}, fmt.Errorf("auth: open session: %w", err)
}
