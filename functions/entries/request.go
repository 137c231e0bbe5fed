package entries

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xmojo/diary/shared/httpapi"
)

// Limits of the API contract and of this function.
const (
	maxContentBytes = 1 << 20 // uce content, UTF-8 bytes
	maxTitleChars   = 500
	// maxCiphertextBytes bounds the decoded e2e envelope: 1 MiB of content plus room for
	// the title and the client's envelope.
	maxCiphertextBytes = 1<<20 + 64<<10
	maxTags            = 32
	maxTagChars        = 64
	maxMoodChars       = 32
	// maxBodyBytes bounds a request body: the largest ciphertext in base64 and the rest.
	maxBodyBytes = 3 << 19 // 1.5 MiB
)

// sources are the values source may take. "facebook" marks imported posts.
var sources = []string{"app", "facebook", "import"}

const defaultSource = "app"

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
		switch {
		case req.Content == nil:
			fields["content"] = "is required"
		case len(*req.Content) > maxContentBytes:
			fields["content"] = fmt.Sprintf("must be at most %d bytes", maxContentBytes)
		default:
			in.content = *req.Content
		}
		if req.Title != nil {
			if utf8.RuneCountInString(*req.Title) > maxTitleChars {
				fields["title"] = fmt.Sprintf("must be at most %d characters", maxTitleChars)
			}
			in.title = req.Title
		}
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
	if req.Mood != nil {
		mood := strings.TrimSpace(*req.Mood)
		switch {
		case utf8.RuneCountInString(mood) > maxMoodChars:
			fields["mood"] = fmt.Sprintf("must be at most %d characters", maxMoodChars)
		case hasControl(mood):
			fields["mood"] = "must not contain control characters"
		case mood != "":
			in.mood = &mood
		}
	}
	tags, msg := normaliseTags(req.Tags)
	if msg != "" {
		fields["tags"] = msg
	}
	in.tags = tags
	if req.Source != nil {
		if !slices.Contains(sources, *req.Source) {
			fields["source"] = "must be one of " + strings.Join(sources, ", ")
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

// normaliseTags trims and lower-cases tags and drops duplicates. The result is sorted, the
// order in which tags are returned.
func normaliseTags(raw []string) ([]string, string) {
	if len(raw) > maxTags {
		return nil, fmt.Sprintf("must hold at most %d tags", maxTags)
	}
	tags := make([]string, 0, len(raw))
	for _, t := range raw {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			return nil, "must not hold an empty tag"
		case utf8.RuneCountInString(t) > maxTagChars:
			return nil, fmt.Sprintf("each tag must be at most %d characters", maxTagChars)
		case hasControl(t):
			return nil, "must not hold control characters"
		}
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return slices.Compact(tags), ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// idempotencyKeyPattern is what an Idempotency-Key may hold: visible ASCII, 1 to 255
// characters (a UUID is the usual choice).
var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
