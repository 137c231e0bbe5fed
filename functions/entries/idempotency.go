package entries

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/xmojo/diary/shared/httpapi"
)

// errIdempotencyKeyReused answers a create whose key was already used for another body
// (the status of draft-ietf-httpapi-idempotency-key-header).
var errIdempotencyKeyReused = httpapi.NewError(http.StatusUnprocessableEntity, "idempotency_key_reused",
	"this Idempotency-Key was already used for a different request")

// idempotencyKeyHash reads the Idempotency-Key header and returns its hash; sent is false
// when the request has none. The key may be sent bare or as a quoted structured-field
// string.
func idempotencyKeyHash(r *http.Request) (hash []byte, sent bool, err error) {
	values := r.Header.Values("Idempotency-Key")
	if len(values) == 0 {
		return nil, false, nil
	}
	key := values[0]
	if len(key) >= 2 && strings.HasPrefix(key, `"`) && strings.HasSuffix(key, `"`) {
		key = key[1 : len(key)-1]
	}
	if len(values) > 1 || !idempotencyKeyPattern.MatchString(key) {
		return nil, true, httpapi.Invalid(map[string]string{"Idempotency-Key": "must be one value of 1 to 255 visible ASCII characters"})
	}
	sum := sha256.Sum256([]byte("diary-entries-idempotency-key-v1\x00" + key))
	return sum[:], true, nil
}

// requestHash fingerprints a create so a retry can be told from another request that reuses
// the key. For uce it is keyed by a key derived from the master key, so the stored hash is
// no unkeyed derivative of the entry's text.
func requestHash(c caller, in entryInput) []byte {
	var mac hash.Hash
	if c.key != nil {
		sub := hmac.New(sha256.New, c.key)
		sub.Write([]byte("diary-entries-idempotency-request-v1"))
		mac = hmac.New(sha256.New, sub.Sum(nil))
	} else {
		mac = hmac.New(sha256.New, []byte("diary-entries-idempotency-request-v1"))
	}
	field := func(present bool, b []byte) {
		if !present {
			mac.Write([]byte{0})
			return
		}
		mac.Write([]byte{1})
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		mac.Write(b)
	}
	str := func(s *string) {
		if s == nil {
			field(false, nil)
			return
		}
		field(true, []byte(*s))
	}
	str(in.title)
	field(true, []byte(in.content))
	field(in.ciphertext != nil, in.ciphertext)
	str(in.mood)
	field(true, binary.BigEndian.AppendUint64(nil, uint64(len(in.tags))))
	for _, t := range in.tags {
		field(true, []byte(t))
	}
	str(in.source)
	if in.occurredAt != nil {
		field(true, []byte(in.occurredAt.Format(time.RFC3339Nano)))
	} else {
		field(false, nil)
	}
	return mac.Sum(nil)
}
