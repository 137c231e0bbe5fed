package blindindex

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
)

// keyInfo is the HKDF info of the search key: the purpose and version, then the user, so
// the key serves this index of this user alone.
const keyInfo = "diary/search-index/v1/"

// tokenChars is how much of the HMAC a token keeps: 10 base32 characters, 50 bits
// (docs/privacy.md, "The search index", says why).
const tokenChars = 10

// Domain separation of the HMAC input: a whole stemmed word and a word prefix never hash
// alike even when their text is the same ("walk" the word, "walk" the prefix of walked),
// and neither does the same word in text the user wrote and in text that came from
// outside (Origin): knowing the plaintext of an injected entry (a Facebook post someone
// else wrote) tells nothing about the tokens of the user's own entries.
const (
	domainWord          = 'w'
	domainPrefix        = 'p'
	domainOutsideWord   = 'W'
	domainOutsidePrefix = 'P'
)

// Origin says where an entry's text came from, which picks its tokens' domain. A query
// looks for both.
type Origin int

const (
	// Own is text the user wrote through the API (source "app").
	Own Origin = iota
	// Outside is text that arrived from elsewhere: a Facebook pull, an import (any other
	// source), content an outsider may have chosen.
	Outside
)

// OriginOf is the Origin of an entry of the source (entries.source).
func OriginOf(source string) Origin {
	if source == "app" || source == "" {
		return Own
	}
	return Outside
}

// tokenEncoding writes tokens with lower-case letters and digits only, so a token needs no
// quoting inside a tsvector or tsquery.
var tokenEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// Key is a user's search key: it turns stems and prefixes into tokens. It is derived from
// the uce master key for each request or job that needs it and never stored; Wipe clears
// it. A Key is not safe for concurrent use.
type Key struct {
	key []byte
	mac hash.Hash
	buf []byte
}

// NewKey derives the user's search key from the master key with HKDF-SHA256. The master
// key itself is not kept.
func NewKey(masterKey []byte, userID string) (*Key, error) {
	if len(masterKey) != 32 {
		return nil, errors.New("blindindex: new key: the master key must be 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, masterKey, nil, keyInfo+userID, 32)
	if err != nil {
		return nil, fmt.Errorf("blindindex: new key: %w", err)
	}
	return &Key{key: k, mac: hmac.New(sha256.New, k)}, nil
}

// Wipe clears the key's bytes; the Key must not be used after.
func (k *Key) Wipe() {
	clear(k.key)
	k.mac.Reset()
	k.mac = nil
}

// token is the lexeme of text under domain: the first 50 bits of
// HMAC-SHA256(key, domain || text), in base32.
func (k *Key) token(domain byte, text string) string {
	k.mac.Reset()
	k.buf = append(k.buf[:0], domain)
	k.buf = append(k.buf, text...)
	k.mac.Write(k.buf)
	var sum [sha256.Size]byte
	return tokenEncoding.EncodeToString(k.mac.Sum(sum[:0])[:7])[:tokenChars]
}

func (k *Key) wordToken(o Origin, stem string) string {
	if o == Outside {
		return k.token(domainOutsideWord, stem)
	}
	return k.token(domainWord, stem)
}

func (k *Key) prefixToken(o Origin, prefix string) string {
	if o == Outside {
		return k.token(domainOutsidePrefix, prefix)
	}
	return k.token(domainPrefix, prefix)
}
