package blindindex

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/rivo/uniseg"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Prefix tokens are made for every prefix of a word from minPrefix to maxPrefix code
// points (the whole word included when it fits). A query prefix longer than maxPrefix is
// cut to it, so it may also find words that share only its first maxPrefix characters.
const (
	minPrefix = 3
	maxPrefix = 8
)

// maxWordRunes is the longest word indexed; longer ones (hashes, base64 pasted into an
// entry) are skipped, as PostgreSQL skips words over 2047 bytes.
const maxWordRunes = 128

// word is one word of a text as the index sees it.
type word struct {
	norm  string // NFKC, case folded: what prefixes are cut from
	stem  string // the Snowball English stem of norm; empty for a stop word
	pos   int    // 1-based, counting stop words, as to_tsvector does
	start int    // code-point offset of the word in the text
	end   int    // code-point offset just past it
}

// stop reports whether the word is a stop word, which takes a position but no token.
func (w word) stop() bool { return w.stem == "" }

// fold case folds s; a cases.Caser is not safe for concurrent use, so each call makes
// its own (cheap: the tables are shared).
func fold(s string) string { return cases.Fold().String(s) }

// normalise is the form words are compared in: NFKC, case folded, NFKC again (folding can
// undo a normalisation), with typographic apostrophes made plain, as the stemmer expects.
func normalise(s string) string {
	s = norm.NFKC.String(fold(norm.NFKC.String(s)))
	return strings.Map(func(r rune) rune {
		if r == '\u2019' || r == '\u2018' || r == '\u02bc' {
			return '\''
		}
		return r
	}, s)
}

// stemmer stems normalised words with Snowball's English (Porter2) algorithm.
type stemmer struct{ env *snowballstem.Env }

func newStemmer() *stemmer { return &stemmer{env: snowballstem.NewEnv("")} }

func (s *stemmer) stem(w string) string {
	s.env.SetCurrent(w)
	english.Stem(s.env)
	return s.env.Current()
}

// splitWords cuts text into words (UAX #29 word segments holding a letter or a digit),
// numbering their positions from first and stemming them with st. Stop words keep their
// position and an empty stem.
func splitWords(text string, first int, st *stemmer) []word {
	var out []word
	pos := first
	runeOff := 0
	state := -1
	rest := text
	for len(rest) > 0 {
		var seg string
		seg, rest, state = uniseg.FirstWordInString(rest, state)
		n := utf8.RuneCountInString(seg)
		start := runeOff
		runeOff += n
		if !isWord(seg) {
			continue
		}
		if n > maxWordRunes {
			pos++
			continue
		}
		w := word{norm: normalise(seg), pos: pos, start: start, end: start + n}
		pos++
		if !stopWords[w.norm] {
			w.stem = st.stem(w.norm)
		}
		out = append(out, w)
	}
	return out
}

// isWord reports whether a segment holds a letter or a digit (not spaces or punctuation).
func isWord(seg string) bool {
	for _, r := range seg {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// prefixes returns the prefixes of a normalised word that are indexed: from minPrefix to
// maxPrefix code points, the whole word included when it is no longer.
func prefixes(norm string) []string {
	var out []string
	n := 0
	for i := range norm {
		if n >= minPrefix && n <= maxPrefix {
			out = append(out, norm[:i])
		}
		n++
	}
	if n >= minPrefix && n <= maxPrefix {
		out = append(out, norm)
	}
	return out
}

// cutPrefix is a query prefix as it is looked up: at most maxPrefix code points.
func cutPrefix(norm string) string {
	n := 0
	for i := range norm {
		if n == maxPrefix {
			return norm[:i]
		}
		n++
	}
	return norm
}

// stopWords are PostgreSQL's English stop words (share/tsearch_data/english.stop), the
// list to_tsvector('english') drops.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`i me my myself we our ours ourselves you your yours yourself
		yourselves he him his himself she her hers herself it its itself they them their theirs
		themselves what which who whom this that these those am is are was were be been being
		have has had having do does did doing a an the and but if or because as until while of
		at by for with about against between into through during before after above below to
		from up down in out on off over under again further then once here there when where
		why how all any both each few more most other some such no nor not only own same so
		than too very s t can will just don should now`) {
		m[w] = true
	}
	return m
}()
