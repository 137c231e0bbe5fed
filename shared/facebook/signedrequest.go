package facebook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// ErrBadSignedRequest is returned for a signed_request that is malformed, names another
// algorithm than HMAC-SHA256, or whose signature does not match: one error for all, so the
// callback is no oracle.
var ErrBadSignedRequest = errors.New("facebook: invalid signed_request")

// maxSignedRequest bounds a signed_request's length; Facebook's are a few hundred bytes.
const maxSignedRequest = 8 << 10

// SignedRequest is the payload of a signed_request (data deletion and deauthorize
// callbacks): the app-scoped id of the user it is about.
type SignedRequest struct {
	Algorithm string `json:"algorithm"`
	IssuedAt  int64  `json:"issued_at"`
	Expires   int64  `json:"expires"`
	UserID    string `json:"user_id"`
}

// ParseSignedRequest verifies and decodes a signed_request as Facebook documents it:
// "<signature>.<payload>", both base64url without padding, the signature the HMAC-SHA256
// of the payload's base64url text keyed by the app secret. The signature is compared in
// constant time (hmac.Equal) before the payload is trusted, and the payload must name the
// HMAC-SHA256 algorithm and a user.
func ParseSignedRequest(appSecret, signed string) (SignedRequest, error) {
	if appSecret == "" || len(signed) > maxSignedRequest {
		return SignedRequest{}, ErrBadSignedRequest
	}
	encodedSig, payload, ok := strings.Cut(signed, ".")
	if !ok || encodedSig == "" || payload == "" {
		return SignedRequest{}, ErrBadSignedRequest
	}
	sig, err := decodeSegment(encodedSig)
	if err != nil {
		return SignedRequest{}, ErrBadSignedRequest
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(payload))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return SignedRequest{}, ErrBadSignedRequest
	}
	raw, err := decodeSegment(payload)
	if err != nil {
		return SignedRequest{}, ErrBadSignedRequest
	}
	var sr SignedRequest
	if err := json.Unmarshal(raw, &sr); err != nil {
		return SignedRequest{}, ErrBadSignedRequest
	}
	if !strings.EqualFold(sr.Algorithm, "HMAC-SHA256") || sr.UserID == "" {
		return SignedRequest{}, ErrBadSignedRequest
	}
	return sr, nil
}

// SignRequest makes a signed_request the way Facebook does, for tests and tools.
func SignRequest(appSecret string, sr SignedRequest) string {
	raw, _ := json.Marshal(sr)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + payload
}

// decodeSegment decodes base64url with or without padding.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
