package blindindex

// SnippetRunes is about how long a snippet is, in characters.
const SnippetRunes = 200

// snippetLead is how much of the snippet comes before its first match.
const snippetLead = 60

// Snippet cuts about SnippetRunes characters of content around the first word the query
// looks for (the start of the content when only the title matched) and returns it with
// the [start, end) code-point offsets, into the snippet, of every word in it that the
// query looks for. It works on decrypted text in memory; nothing of it is stored.
func Snippet(content string, q Query) (string, [][2]int) {
	words := splitWords(content, 1, newStemmer())
	rs := []rune(content)
	first := -1
	for i, w := range words {
		if q.matches(w) {
			first = i
			break
		}
	}
	start := 0
	if first >= 0 && words[first].end > SnippetRunes {
		// Begin at a word a little before the match, so the match is not the first word
		// unless it must be.
		start = words[first].start
		for i := first - 1; i >= 0 && words[first].start-words[i].start <= snippetLead; i-- {
			start = words[i].start
		}
	}
	end := min(len(rs), start+SnippetRunes)
	// End after a whole word: never cut one in two.
	for _, w := range words {
		if w.start < end && w.end > end {
			end = w.end
			break
		}
	}
	highlights := [][2]int{}
	for _, w := range words {
		if w.start >= start && w.end <= end && q.matches(w) {
			highlights = append(highlights, [2]int{w.start - start, w.end - start})
		}
	}
	return string(rs[start:end]), highlights
}
