package blindindex

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxQueryRunes is the longest query accepted, in characters.
const MaxQueryRunes = 256

// ErrQueryEmpty is returned for a query with no word to look for: only stop words,
// punctuation, or exclusions.
var ErrQueryEmpty = errors.New("blindindex: the query has no searchable word")

// ErrQueryTooLong is returned for a query over MaxQueryRunes characters.
var ErrQueryTooLong = errors.New("blindindex: the query is too long")

// ErrPrefixTooShort is returned for a prefix* of fewer than 3 characters: no token is
// indexed for it.
var ErrPrefixTooShort = errors.New("blindindex: a prefix needs at least 3 characters")

// Query is a parsed search: a conjunction of groups, each a disjunction of terms (websearch
// syntax: "a b or c" is a AND (b OR c)). It holds the query's words in memory only, for
// the tsquery and for the snippets.
type Query struct {
	groups [][]term
}

// term is one word, "phrase" or prefix*, maybe excluded. Its words are in order, each
// with its distance from the one before (stop words in a phrase widen the gap, as in
// phraseto_tsquery).
type term struct {
	exclude bool
	words   []queryWord
}

// queryWord is one word of a term.
type queryWord struct {
	stem   string // whole word: its stem
	prefix string // prefix*: the normalised prefix (stem empty)
	gap    int    // distance from the term's previous word; 0 for the first
}

// ParseQuery parses a query in websearch syntax: words (all must occur), "a phrase"
// (adjacent, in order), or (either side), -word or -"phrase" (must not occur), prefix*
// (a word starting so, 3 characters at least).
func ParseQuery(q string) (Query, error) {
	if utf8.RuneCountInString(q) > MaxQueryRunes {
		return Query{}, ErrQueryTooLong
	}
	st := newStemmer()
	var groups [][]term
	orNext := false
	for _, raw := range lexQuery(q) {
		if raw.or {
			orNext = len(groups) > 0
			continue
		}
		t, err := raw.term(st)
		if err != nil {
			return Query{}, err
		}
		if len(t.words) == 0 {
			continue
		}
		if orNext {
			last := len(groups) - 1
			groups[last] = append(groups[last], t)
		} else {
			groups = append(groups, []term{t})
		}
		orNext = false
	}
	query := Query{groups: groups}
	if !query.hasPositive() {
		return Query{}, ErrQueryEmpty
	}
	return query, nil
}

// hasPositive reports whether some term is looked for rather than excluded: a query of
// exclusions alone would match nearly everything and no index could serve it.
func (q Query) hasPositive() bool {
	for _, g := range q.groups {
		for _, t := range g {
			if !t.exclude {
				return true
			}
		}
	}
	return false
}

// rawTerm is a term as the query's text gave it.
type rawTerm struct {
	text    string
	phrase  bool
	exclude bool
	or      bool
}

// lexQuery cuts the query into terms: "quoted phrases", bare words, the operator or, and a
// leading - that excludes the term after it.
func lexQuery(q string) []rawTerm {
	var out []rawTerm
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				j++
			}
			out = append(out, rawTerm{text: string(rs[i+1 : j]), phrase: true})
			i = j + 1
		case r == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) && rs[i+1] != '-':
			j := i + 1
			if rs[j] == '"' {
				k := j + 1
				for k < len(rs) && rs[k] != '"' {
					k++
				}
				out = append(out, rawTerm{text: string(rs[j+1 : k]), phrase: true, exclude: true})
				i = k + 1
				continue
			}
			k := j
			for k < len(rs) && !unicode.IsSpace(rs[k]) && rs[k] != '"' {
				k++
			}
			out = append(out, rawTerm{text: string(rs[j:k]), exclude: true})
			i = k
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' {
				j++
			}
			text := string(rs[i:j])
			out = append(out, rawTerm{text: text, or: strings.EqualFold(text, "or")})
			i = j
		}
	}
	return out
}

// term tokenises a raw term like the index does. A bare word the segmentation splits
// ("e-mail") becomes a phrase of its parts; a trailing * makes the term's last word a
// prefix; stop words drop out (widening a phrase's gaps).
func (r rawTerm) term(st *stemmer) (term, error) {
	text := r.text
	prefix := false
	if !r.phrase || strings.HasSuffix(text, "*") {
		trimmed := strings.TrimRight(text, "*")
		prefix = trimmed != text
		text = trimmed
	}
	words := splitWords(text, 1, st)
	t := term{exclude: r.exclude}
	lastPos := 0
	for i, w := range words {
		qw := queryWord{stem: w.stem}
		if prefix && i == len(words)-1 {
			if utf8.RuneCountInString(w.norm) < minPrefix {
				return term{}, ErrPrefixTooShort
			}
			qw = queryWord{prefix: cutPrefix(w.norm)}
		} else if w.stop() {
			continue
		}
		if len(t.words) > 0 {
			qw.gap = w.pos - lastPos
		}
		lastPos = w.pos
		t.words = append(t.words, qw)
	}
	return t, nil
}

// TSQuery is the query under the user's key as tsquery text: tokens in quotes joined by
// &, |, ! and <N>, each word as its Own token or its Outside one. It holds no word of the query and is passed to PostgreSQL as a
// parameter (::tsquery), never spliced into SQL.
func (k *Key) TSQuery(q Query) string {
	var sb strings.Builder
	for i, g := range q.groups {
		if i > 0 {
			sb.WriteString(" & ")
		}
		if len(g) > 1 {
			sb.WriteByte('(')
		}
		for j, t := range g {
			if j > 0 {
				sb.WriteString(" | ")
			}
			k.writeTerm(&sb, t)
		}
		if len(g) > 1 {
			sb.WriteByte(')')
		}
	}
	return sb.String()
}

func (k *Key) writeTerm(sb *strings.Builder, t term) {
	if t.exclude {
		sb.WriteByte('!')
	}
	if len(t.words) > 1 {
		sb.WriteByte('(')
	}
	for i, w := range t.words {
		if i > 0 {
			if w.gap == 1 {
				sb.WriteString(" <-> ")
			} else {
				sb.WriteString(" <" + strconv.Itoa(w.gap) + "> ")
			}
		}
		// The word in either origin's domain.
		token := k.wordToken
		text := w.stem
		if w.prefix != "" {
			token, text = k.prefixToken, w.prefix
		}
		sb.WriteString("('" + token(Own, text) + "' | '" + token(Outside, text) + "')")
	}
	if len(t.words) > 1 {
		sb.WriteByte(')')
	}
}

// HasPrefix reports whether the query has a prefix* term, which only the tokens with
// prefixes (Vector.All, search_index.tokens_prefixed) can match.
func (q Query) HasPrefix() bool {
	for _, g := range q.groups {
		for _, t := range g {
			for _, w := range t.words {
				if w.prefix != "" {
					return true
				}
			}
		}
	}
	return false
}

// NeedsFullScan reports whether the query has an or'ed exclusion ("walk or -rain"): it
// matches every entry without the excluded word, which no index can list, so it must be
// evaluated on each of the user's rows.
func (q Query) NeedsFullScan() bool {
	for _, g := range q.groups {
		if len(g) < 2 {
			continue
		}
		for _, t := range g {
			if t.exclude {
				return true
			}
		}
	}
	return false
}

// matches reports whether an indexed word is one the query looks for (excluded terms
// aside): what the snippet highlights.
func (q Query) matches(w word) bool {
	if w.stop() {
		return false
	}
	for _, g := range q.groups {
		for _, t := range g {
			if t.exclude {
				continue
			}
			for _, qw := range t.words {
				if qw.prefix != "" && strings.HasPrefix(w.norm, qw.prefix) {
					return true
				}
				if qw.prefix == "" && qw.stem == w.stem {
					return true
				}
			}
		}
	}
	return false
}
