package entries

import (
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/xmojo/diary/shared/entryfields"
	"github.com/xmojo/diary/shared/httpapi"
)

// Limits of the API contract, and the sources and default source: one set of rules for
// every writer of entries (shared/entryfields).
const (
	maxContentBytes    = entryfields.MaxContentBytes
	maxCiphertextBytes = entryfields.MaxCiphertextBytes
	// maxBodyBytes bounds a request body: the largest ciphertext in base64 and the rest.
	maxBodyBytes  = 3 << 19 // 1.5 MiB
	defaultSource = entryfields.DefaultSource
)

// entryRequest is the body of a create or an update, for both tiers: uce sends title and
// content, e2e sends ciphertext.
type entryRequest struct {
	Title      *string  `json:"title"`
	Content    *string  `json:"content"`
	Ciphertext *string  `json:"ciphertext"`
	Mood       *string  `json:"mood"`
	Tags       []string `json:"tags"`
	Source     *string  `json:"source"`
	OccurredAt *string  `json:"occurred_at"`
}

// entryInput is a validated, normalised entryRequest.
type entryInput struct {
	// uce
	title   *string
	content string
	// e2e: the decoded envelope
	ciphertext []byte
	mood       *string
	tags       []string // normalised, unique, sorted
	source     *string  // nil: "app" on create, unchanged on update
	occurredAt *time.Time
}

// validate checks the request against the caller's tier and the limits, and returns it
// normalised. All problems are reported at once in a 422.
func (req entryRequest) validate(tier string) (entryInput, error) {
	var in entryInput
	fields := map[string]string{}
	switch tier {
	case tierUCE:
		if req.Ciphertext != nil {
			fields["ciphertext"] = "is for e2e accounts; a uce account sends title and content"
		}
		if req.Content == nil {
			fields["content"] = "is required"
		} else {
			in.content = *req.Content
		}
		in.title = req.Title
		maps.Copy(fields, entryfields.CheckText(req.Title, in.content))
	case tierE2E:
		if req.Content != nil {
			fields["content"] = "is for uce accounts; an e2e account sends ciphertext"
		}
		if req.Title != nil {
			fields["title"] = "is for uce accounts; an e2e account puts the title inside ciphertext"
		}
		if req.Ciphertext == nil {
			fields["ciphertext"] = "is required"
		} else if ct, msg := decodeCiphertext(*req.Ciphertext); msg != "" {
			fields["ciphertext"] = msg
		} else {
			in.ciphertext = ct
		}
	}
	in.mood, in.tags = entryfields.NormaliseMeta(req.Mood, req.Tags, fields)
	if req.Source != nil {
		if !entryfields.ValidSource(*req.Source) {
			fields["source"] = entryfields.SourceRule()
		}
		in.source = req.Source
	}
	if req.OccurredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.OccurredAt)
		if err != nil {
			fields["occurred_at"] = "must be an RFC 3339 time, e.g. 2024-05-01T08:30:00Z"
		} else {
			t = t.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
			in.occurredAt = &t
		}
	}
	if len(fields) > 0 {
		return entryInput{}, httpapi.Invalid(fields)
	}
	return in, nil
}

// decodeCiphertext checks an e2e envelope: standard base64 with padding, written exactly as
// its canonical encoding (so it is returned as it came), not empty, not too large.
func decodeCiphertext(s string) ([]byte, string) {
	if base64.StdEncoding.EncodedLen(maxCiphertextBytes) < len(s) {
		return nil, fmt.Sprintf("must decode to at most %d bytes", maxCiphertextBytes)
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(ct) != s {
		return nil, "must be standard base64 (with padding, no line breaks)"
	}
	if len(ct) == 0 {
		return nil, "must not be empty"
	}
	if len(ct) > maxCiphertextBytes {
		return nil, fmt.Sprintf("must decode to at most %d bytes", maxCiphertextBytes)
	}
	return ct, ""
}

// idempotencyKeyPattern is what an Idempotency-Key may hold: visible ASCII, 1 to 255
// characters (a UUID is the usual choice).
var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
