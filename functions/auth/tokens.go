package auth

import (
	"context"
	"encoding/base64"
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
// under the server's session key, and returns its first token pair.
func (s *server) openSession(ctx context.Context, u user, masterKey []byte) (tokenPair, error) {
	sess, refresh, err := s.sessions.Create(ctx, u.ID, u.Tier, masterKey)
	if err != nil {
		return tokenPair{}, fmt.Errorf("auth: open session: %w", err)
	}
	pair, err := s.newTokenPair(sess, refresh)
	if err != nil {
		// Not reachable with a valid key; do not leave a session nobody can use.
		_ = s.sessions.Revoke(ctx, sess.ID)
		return tokenPair{}, err
	}
	return pair, nil
}
