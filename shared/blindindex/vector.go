package blindindex

import (
	"slices"
	"strconv"
	"strings"
)

// PostgreSQL's limits on a tsvector: positions run from 1 to 16383 (later ones are
// clamped to it), a lexeme keeps at most 256 positions, and the whole value must stay
// under 1 MiB.
const (
	maxPosition     = 16383
	maxPositions    = 256
	maxVectorBytes  = 1 << 20
	vectorBudget    = maxVectorBytes - 64<<10 // room for the header and rounding
	titleContentGap = 1                       // a phrase never spans title and content
)

// Vector is an entry's tokens as two tsvector literals ('token':1A,4A 'token':2 ...),
// holding only tokens, positions and weights: the words alone, and the words with the
// prefixes. Queries without a prefix* match the first, which is about as large as
// PostgreSQL's plaintext tsvector of the text, so they read no prefix; queries with one
// match the second (search_index.tokens and tokens_prefixed). Both are passed to
// PostgreSQL as parameters and cast with ::tsvector.
type Vector struct {
	words, all string
	// Lexemes counts the distinct tokens, prefixes included.
	Lexemes int
	// Truncated reports that the text was too long for one tsvector and its later tokens
	// (prefixes first) were left out.
	Truncated bool
}

// Words is the tsvector literal of the word tokens.
func (v Vector) Words() string { return v.words }

// All is the tsvector literal of the word and prefix tokens.
func (v Vector) All() string { return v.all }

// lexeme is a token with its positions (already clamped and weighted).
type lexeme struct {
	token     string
	prefix    bool
	positions []uint16 // sorted, distinct
	title     []bool   // title[i]: positions[i] is in the title (weight A)
}

// Vector makes the tokens of an entry of the origin: the title's words weighted A, the
// content's D (PostgreSQL's default weight), each stemmed word and each indexed prefix a
// token with the word's positions.
func (k *Key) Vector(o Origin, title *string, content string) Vector {
	st := newStemmer()
	var titleWords []word
	next := 1
	if title != nil {
		titleWords = splitWords(*title, 1, st)
		if n := len(titleWords); n > 0 {
			next = titleWords[n-1].pos + 1 + titleContentGap
		}
	}
	contentWords := splitWords(content, next, st)

	b := vectorBuilder{k: k, origin: o, index: map[string]int{}}
	// Words before prefixes: when the budget runs out, prefixes go first.
	b.addAll(titleWords, true, false)
	b.addAll(contentWords, false, false)
	b.addAll(titleWords, true, true)
	b.addAll(contentWords, false, true)
	return b.vector()
}

// vectorBuilder gathers lexemes within the tsvector size budget.
type vectorBuilder struct {
	k         *Key
	origin    Origin
	lexemes   []lexeme
	index     map[string]int // token -> index in lexemes
	size      int
	truncated bool
}

func (b *vectorBuilder) addAll(words []word, title, prefix bool) {
	for _, w := range words {
		if w.stop() {
			continue
		}
		if !prefix {
			b.add(b.k.wordToken(b.origin, w.stem), false, w.pos, title)
			continue
		}
		for _, p := range prefixes(w.norm) {
			b.add(b.k.prefixToken(b.origin, p), true, w.pos, title)
		}
	}
}

// add records token at pos. The size estimate follows PostgreSQL's layout: a 4-byte entry
// per lexeme, its text, padding to 2, a 2-byte count and 2 bytes per position.
func (b *vectorBuilder) add(token string, prefix bool, pos int, title bool) {
	p := uint16(min(pos, maxPosition))
	i, ok := b.index[token]
	if !ok {
		cost := 4 + len(token) + 1 + 2 + 2
		if b.size+cost > vectorBudget {
			b.truncated = true
			return
		}
		b.size += cost
		b.index[token] = len(b.lexemes)
		b.lexemes = append(b.lexemes, lexeme{token: token, prefix: prefix, positions: []uint16{p}, title: []bool{title}})
		return
	}
	l := &b.lexemes[i]
	last := len(l.positions) - 1
	if l.positions[last] == p {
		// Clamped positions collapse into one, as in PostgreSQL.
		l.title[last] = l.title[last] || title
		return
	}
	if len(l.positions) >= maxPositions || b.size+2 > vectorBudget {
		return
	}
	b.size += 2
	l.positions = append(l.positions, p)
	l.title = append(l.title, title)
}

func (b *vectorBuilder) vector() Vector {
	slices.SortFunc(b.lexemes, func(x, y lexeme) int { return strings.Compare(x.token, y.token) })
	var words, all strings.Builder
	all.Grow(b.size + len(b.lexemes)*4)
	for _, l := range b.lexemes {
		if !l.prefix {
			writeLexeme(&words, l)
		}
		writeLexeme(&all, l)
	}
	return Vector{words: words.String(), all: all.String(), Lexemes: len(b.lexemes), Truncated: b.truncated}
}

// writeLexeme appends l in tsvector syntax.
func writeLexeme(sb *strings.Builder, l lexeme) {
	if sb.Len() > 0 {
		sb.WriteByte(' ')
	}
	sb.WriteByte('\'')
	sb.WriteString(l.token)
	sb.WriteString("':")
	for j, p := range l.positions {
		if j > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(p)))
		if l.title[j] {
			sb.WriteByte('A')
		}
	}
}
