// Package entryfields provides the rules of an entry's fields that every writer of entries
// applies the same way: the size limits of the API contract, the sources an entry may come
// from, and the normalisation of tags and mood. The entries function checks requests with
// it, and shared/intake checks what a job delivers with it, so an entry that arrives while
// the user is away obeys exactly the rules of one the user writes.
package entryfields

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the API contract (API.md, Entries).
const (
	// MaxContentBytes bounds a uce entry's content, in UTF-8 bytes.
	MaxContentBytes = 1 << 20
	// MaxTitleChars bounds a uce entry's title, in characters.
	MaxTitleChars = 500
	// MaxCiphertextBytes bounds an e2e entry's stored body (the client's envelope, or an
	// intake box): 1 MiB of content plus room for the title and the envelope.
	MaxCiphertextBytes = 1<<20 + 64<<10
	// MaxTags bounds the number of tags of an entry.
	MaxTags = 32
	// MaxTagChars bounds one tag, in characters.
	MaxTagChars = 64
	// MaxMoodChars bounds the mood, in characters.
	MaxMoodChars = 32
)

// Sources are the values an entry's source may take: "app" for what the user writes,
// "facebook" for pulled posts, "import" and "dayone" for imported archives.
var Sources = []string{"app", "facebook", "import", "dayone"}

// DefaultSource is the source of an entry that names none.
const DefaultSource = "app"

// ValidSource reports whether s is one of Sources.
func ValidSource(s string) bool { return slices.Contains(Sources, s) }

// SourceRule is the message for a source that is not one of Sources.
func SourceRule() string { return "must be one of " + strings.Join(Sources, ", ") }

// NormaliseTags trims and lower-cases tags and drops duplicates; the result is sorted, the
// order in which tags are stored and returned. A rule broken gives a message for the field
// (and nil tags); otherwise the message is "".
func NormaliseTags(raw []string) ([]string, string) {
	if len(raw) > MaxTags {
		return nil, fmt.Sprintf("must hold at most %d tags", MaxTags)
	}
	tags := make([]string, 0, len(raw))
	for _, t := range raw {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			return nil, "must not hold an empty tag"
		case utf8.RuneCountInString(t) > MaxTagChars:
			return nil, fmt.Sprintf("each tag must be at most %d characters", MaxTagChars)
		case HasControl(t):
			return nil, "must not hold control characters"
		}
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return slices.Compact(tags), ""
}

// NormaliseMood trims a mood; an empty one is no mood (nil). A rule broken gives a message
// for the field; otherwise the message is "".
func NormaliseMood(raw string) (*string, string) {
	mood := strings.TrimSpace(raw)
	switch {
	case utf8.RuneCountInString(mood) > MaxMoodChars:
		return nil, fmt.Sprintf("must be at most %d characters", MaxMoodChars)
	case HasControl(mood):
		return nil, "must not contain control characters"
	case mood == "":
		return nil, ""
	}
	return &mood, ""
}

// FilterMood trims a mood a list or a search filters by; a mood no entry could hold (more
// than MaxMoodChars, control characters, or not UTF-8, which a query string can carry and
// PostgreSQL refuses as text, as it refuses NUL) gives a message for the field.
func FilterMood(raw string) (string, string) {
	mood := strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(mood) || HasControl(mood):
		return "", "must be UTF-8 text without control characters"
	case utf8.RuneCountInString(mood) > MaxMoodChars:
		return "", fmt.Sprintf("must be at most %d characters", MaxMoodChars)
	}
	return mood, ""
}

// NormaliseMeta normalises an entry's mood (nil: none) and tags, and adds a message to
// fields for each that breaks a rule.
func NormaliseMeta(mood *string, tags []string, fields map[string]string) (*string, []string) {
	var m *string
	if mood != nil {
		var msg string
		if m, msg = NormaliseMood(*mood); msg != "" {
			fields["mood"] = msg
		}
	}
	t, msg := NormaliseTags(tags)
	if msg != "" {
		fields["tags"] = msg
	}
	return m, t
}

// CheckText checks a uce title (nil: none) and content against their limits and for
// valid UTF-8 (what a JSON request always decodes to, and what a job must deliver, so that
// the text read back is the text given), and returns a message per field that breaks one.
func CheckText(title *string, content string) map[string]string {
	fields := map[string]string{}
	switch {
	case len(content) > MaxContentBytes:
		fields["content"] = fmt.Sprintf("must be at most %d bytes", MaxContentBytes)
	case !utf8.ValidString(content):
		fields["content"] = "must be valid UTF-8"
	}
	switch {
	case title == nil:
	case utf8.RuneCountInString(*title) > MaxTitleChars:
		fields["title"] = fmt.Sprintf("must be at most %d characters", MaxTitleChars)
	case !utf8.ValidString(*title):
		fields["title"] = "must be valid UTF-8"
	}
	return fields
}

// HasControl reports whether s holds a control character.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
