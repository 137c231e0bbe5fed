package blindindex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

func testKey(t *testing.T, seed byte, userID string) *Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{seed}, 32), userID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStemsMatchPostgreSQL checks the stemmer and the stop words against PostgreSQL's own
// english_stem dictionary, word by word: results must match what users know from
// to_tsvector('english').
func TestStemsMatchPostgreSQL(t *testing.T) {
	svc := testenv.Services(t)
	words := strings.Fields(`walk walked walking walker walks running runs ran generously
		generate generation general connection connections connective connected connecting
		happiness happy happily relational conditional rational valenci hesitanci digitizer
		conformabli radicalli differentli vileli analogousli vietnamization predication
		operator feudalism decisiveness hopefulness callousness formaliti sensitiviti
		sensibiliti triplicate formative formalize electriciti electrical hopeful goodness
		revival allowance inference airliner gyroscopic adjustable defensible irritant
		replacement adjustment dependent adoption homologou communism activate angulariti
		homologous effective bowdlerize skies dying lying tying news innings outing canning
		herring earring proceed exceed succeed cried ties gently early only singly
		consign consigned consigning consignment consist consisted consistency consistent
		knight knights kneel knelt feet mice geese cats dog's don't o'clock café naïve
		résumé straße 2024 covid19 diary diaries journaling photographs photography
		beautiful beauty beautifully quickly quick quickness mountains mountain hiking
		hiked hikes hiker swimming swam swimmer yesterday tomorrow birthday anniversary
		the a an and or but if is was were been being have has had i me my we our you
		your he she it they them their this that these those am are do does did not no
		nor only own same so than too very s t can will just don should now`)
	st := newStemmer()
	for _, w := range words {
		// PostgreSQL lower-cases; we case fold (ß is ss), so it is given the folded form.
		n := normalise(w)
		var want []string
		if err := svc.DB.QueryRow(context.Background(), `SELECT ts_lexize('english_stem', $1)`, n).Scan(&want); err != nil {
			t.Fatalf("ts_lexize(%q): %v", n, err)
		}
		got := ""
		if !stopWords[n] {
			got = st.stem(n)
		}
		switch {
		case len(want) == 0 && got != "":
			t.Errorf("stem(%q) = %q, want a stop word", w, got)
		case len(want) == 1 && got != want[0]:
			t.Errorf("stem(%q) = %q, want %q (PostgreSQL)", w, got, want[0])
		case len(want) > 1:
			t.Errorf("ts_lexize(%q) = %v, more than one lexeme", w, want)
		}
	}
}

// TestStopWordsArePostgreSQLs checks the list against PostgreSQL's english.stop: every
// stop word of ours is one of PostgreSQL's.
func TestStopWordsArePostgreSQLs(t *testing.T) {
	svc := testenv.Services(t)
	for w := range stopWords {
		var got []string
		if err := svc.DB.QueryRow(context.Background(), `SELECT ts_lexize('english_stem', $1)`, w).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("ts_lexize(%q) = %v, want a stop word", w, got)
		}
	}
	if len(stopWords) != 127 {
		t.Errorf("%d stop words, want PostgreSQL's 127", len(stopWords))
	}
}

func TestSplitWords(t *testing.T) {
	st := newStemmer()
	ws := splitWords("The WALKERS walked, in Straße’s café! ©2024", 1, st)
	type w struct {
		norm, stem string
		pos        int
		start, end int
	}
	var got []w
	for _, x := range ws {
		got = append(got, w{x.norm, x.stem, x.pos, x.start, x.end})
	}
	want := []w{
		{"the", "", 1, 0, 3},
		{"walkers", "walker", 2, 4, 11},
		{"walked", "walk", 3, 12, 18},
		{"in", "", 4, 20, 22},
		{"strasse's", "strass", 5, 23, 31},
		{"café", "café", 6, 32, 36},
		{"2024", "2024", 7, 39, 43},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("splitWords = %v\nwant %v", got, want)
	}
}

func TestTokensAreKeyedPerUserAndDomain(t *testing.T) {
	a := testKey(t, 1, "user-a")
	a2 := testKey(t, 1, "user-a")
	b := testKey(t, 2, "user-b")
	sameMasterOtherUser := testKey(t, 1, "user-b")
	if a.wordToken(Own, "walk") != a2.wordToken(Own, "walk") {
		t.Error("one key gives two tokens for one word")
	}
	if a.wordToken(Own, "walk") == b.wordToken(Own, "walk") || a.wordToken(Own, "walk") == sameMasterOtherUser.wordToken(Own, "walk") {
		t.Error("two users' keys give the same token")
	}
	distinct := map[string]bool{a.wordToken(Own, "walk"): true, a.prefixToken(Own, "walk"): true,
		a.wordToken(Outside, "walk"): true, a.prefixToken(Outside, "walk"): true}
	if len(distinct) != 4 {
		t.Error("a word and a prefix, own and from outside, of the same text do not give four tokens")
	}
	if tok := a.wordToken(Own, "walk"); len(tok) != 10 || strings.Trim(tok, "0123456789abcdefghijklmnopqrstuv") != "" {
		t.Errorf("token %q: want 10 characters of [0-9a-v]", tok)
	}
	if _, err := NewKey(make([]byte, 16), "u"); err == nil {
		t.Error("NewKey took a 16-byte master key")
	}
}

func TestVectorHoldsNoWord(t *testing.T) {
	k := testKey(t, 3, "u")
	title := "Zanzibarcanary trip"
	v := k.Vector(Own, &title, "We walked to the zanzibarcanary beach.")
	for _, s := range []string{"zanzibar", "canary", "walk", "beach", "trip"} {
		if strings.Contains(v.All(), s) {
			t.Errorf("vector %q holds %q", v.All(), s)
		}
	}
	if v.Lexemes == 0 || v.Truncated {
		t.Errorf("vector: %d lexemes, truncated %v", v.Lexemes, v.Truncated)
	}
}

// TestMatchInPostgreSQL runs queries of each kind against vectors in PostgreSQL itself.
func TestMatchInPostgreSQL(t *testing.T) {
	svc := testenv.Services(t)
	k := testKey(t, 4, "u")
	docs := map[string][2]string{
		"walk":   {"", "Yesterday I walked along the river with Anna."},
		"hike":   {"", "A long hike in the mountains; the walking was hard."},
		"park":   {"", "We had a picnic in the park, then a walk in the rain."},
		"ticket": {"Walker", "Bought tickets for the concert."},
	}
	vec := map[string]Vector{}
	for name, d := range docs {
		var title *string
		if d[0] != "" {
			title = &d[0]
		}
		o := Own
		if name == "hike" {
			o = Outside // as a Facebook post: found all the same
		}
		vec[name] = k.Vector(o, title, d[1])
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"walk", []string{"hike", "park", "walk"}},
		{"walked", []string{"hike", "park", "walk"}},
		{"WALKING", []string{"hike", "park", "walk"}},
		{"walk river", []string{"walk"}},
		{`"walked along"`, []string{"walk"}},
		{`"along walked"`, nil},
		{`"walk in the rain"`, []string{"park"}},
		{`"walk the rain"`, nil},
		{"river or mountains", []string{"hike", "walk"}},
		{"walk -river", []string{"hike", "park"}},
		{`walk -"in the rain"`, []string{"hike", "walk"}},
		{"walk*", []string{"hike", "park", "ticket", "walk"}},
		{"walke*", []string{"ticket", "walk"}},
		{"tick*", []string{"ticket"}},
		{"concert tick* or mountain", []string{"ticket"}},
		{"e-mail", nil},
	}
	for _, c := range cases {
		q, err := ParseQuery(c.query)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", c.query, err)
		}
		var got []string
		for _, name := range []string{"hike", "park", "ticket", "walk"} {
			var ok bool
			v := vec[name].Words()
			if q.HasPrefix() {
				v = vec[name].All()
			}
			if err := svc.DB.QueryRow(context.Background(), `SELECT $1::tsvector @@ $2::tsquery`,
				v, k.TSQuery(q)).Scan(&ok); err != nil {
				t.Fatalf("match %q: %v", c.query, err)
			}
			if ok {
				got = append(got, name)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("search %q = %v, want %v (tsquery %s)", c.query, got, c.want, k.TSQuery(q))
		}
	}
}

// TestOutsideTextSharesNoToken: the same text as the user's own and from outside gives no
// token in common, so an injected entry's known plaintext labels none of the user's own
// tokens.
func TestOutsideTextSharesNoToken(t *testing.T) {
	svc := testenv.Services(t)
	k := testKey(t, 7, "u")
	text := "We walked along the river to the old mill."
	var shared int
	if err := svc.DB.QueryRow(context.Background(), `
		SELECT count(*) FROM unnest($1::tsvector) a JOIN unnest($2::tsvector) b ON a.lexeme = b.lexeme`,
		k.Vector(Own, nil, text).All(), k.Vector(Outside, nil, text).All()).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if shared != 0 {
		t.Errorf("own and outside tokens of one text share %d lexemes, want 0", shared)
	}
	if OriginOf("app") != Own || OriginOf("facebook") != Outside || OriginOf("import") != Outside {
		t.Error("OriginOf: app is Own, every other source Outside")
	}
}

func TestTitleRanksAboveContent(t *testing.T) {
	svc := testenv.Services(t)
	k := testKey(t, 5, "u")
	title := "Lighthouse"
	inTitle := k.Vector(Own, &title, "A quiet day by the sea.").Words()
	inContent := k.Vector(Own, nil, "A quiet day by the sea, near the lighthouse.").Words()
	q, err := ParseQuery("lighthouse")
	if err != nil {
		t.Fatal(err)
	}
	// ts_rank_cd, and rum_ts_score: the rank the search orders by (the RUM index).
	for _, rank := range []string{"ts_rank_cd", "rum_ts_score"} {
		var rt, rc float32
		if err := svc.DB.QueryRow(context.Background(), `
			SELECT `+rank+`($1::tsvector, $3::tsquery), `+rank+`($2::tsvector, $3::tsquery)`,
			inTitle, inContent, k.TSQuery(q)).Scan(&rt, &rc); err != nil {
			t.Fatal(err)
		}
		if rt <= rc {
			t.Errorf("%s with the word in the title %v, in the content %v: want the title's higher", rank, rt, rc)
		}
	}
}

// TestLongEntryFitsATSVector: an entry of 1 MiB of distinct words is cut to what one
// tsvector holds, and PostgreSQL accepts it.
func TestLongEntryFitsATSVector(t *testing.T) {
	svc := testenv.Services(t)
	k := testKey(t, 6, "u")
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, "word%dx ", i)
	}
	v := k.Vector(Own, nil, sb.String())
	if !v.Truncated {
		t.Error("a 1 MiB entry of distinct words was not truncated")
	}
	var n int
	if err := svc.DB.QueryRow(context.Background(), `SELECT length($1::tsvector)`, v.All()).Scan(&n); err != nil {
		t.Fatalf("PostgreSQL refused the vector: %v", err)
	}
	if n != v.Lexemes {
		t.Errorf("length = %d, want %d", n, v.Lexemes)
	}
	// The words came first: the first word is findable whole.
	q, _ := ParseQuery("word0x")
	var ok bool
	if err := svc.DB.QueryRow(context.Background(), `SELECT $1::tsvector @@ $2::tsquery`, v.Words(), k.TSQuery(q)).Scan(&ok); err != nil || !ok {
		t.Errorf("first word not found: %v %v", ok, err)
	}
}

func TestParseQueryRefusals(t *testing.T) {
	cases := []struct {
		query string
		want  error
	}{
		{"", ErrQueryEmpty},
		{"   ", ErrQueryEmpty},
		{"the and of", ErrQueryEmpty},
		{"!!! ... ???", ErrQueryEmpty},
		{`"" or`, ErrQueryEmpty},
		{"-walk", ErrQueryEmpty},
		{"wa*", ErrPrefixTooShort},
		{strings.Repeat("a", 257), ErrQueryTooLong},
	}
	for _, c := range cases {
		if _, err := ParseQuery(c.query); !errors.Is(err, c.want) {
			t.Errorf("ParseQuery(%q) = %v, want %v", c.query, err, c.want)
		}
	}
	if _, err := ParseQuery(strings.Repeat("é ", 128)); err != nil {
		t.Errorf("ParseQuery(256 characters) = %v, want nil", err)
	}
}

func TestSnippet(t *testing.T) {
	q, err := ParseQuery("walk* river")
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("Nothing much happened today. ", 20) + "Then we walked by the river; walking is good. " +
		strings.Repeat("More words follow here. ", 20)
	snip, hl := Snippet(content, q)
	rs := []rune(snip)
	if n := len(rs); n < 150 || n > 230 {
		t.Errorf("snippet is %d characters, want about 200", n)
	}
	var marked []string
	for _, h := range hl {
		marked = append(marked, string(rs[h[0]:h[1]]))
	}
	if fmt.Sprint(marked) != "[walked river walking]" {
		t.Errorf("highlights mark %v, want [walked river walking]", marked)
	}
	// Offsets are code points: a snippet of multi-byte text.
	q2, _ := ParseQuery("café")
	snip2, hl2 := Snippet("Ünïcödé ☕ café", q2)
	if got := string([]rune(snip2)[hl2[0][0]:hl2[0][1]]); got != "café" || hl2[0] != [2]int{10, 14} {
		t.Errorf("highlight %v = %q, want [10 14] café", hl2[0], got)
	}
	// Only the title matched: the snippet is the content's start, with nothing marked.
	snip3, hl3 := Snippet("Short content.", q)
	if snip3 != "Short content." || len(hl3) != 0 {
		t.Errorf("Snippet = %q %v, want the content and no highlight", snip3, hl3)
	}
}

func TestNeedsFullScan(t *testing.T) {
	for q, want := range map[string]bool{
		"walk":                false,
		"walk -rain":          false,
		"walk or hike":        false,
		`walk -"in the rain"`: false,
		"walk or -rain":       true,
		"hike walk or -rain":  true,
		"walk* or -rai*":      true,
	} {
		parsed, err := ParseQuery(q)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", q, err)
		}
		if got := parsed.NeedsFullScan(); got != want {
			t.Errorf("ParseQuery(%q).NeedsFullScan() = %v, want %v", q, got, want)
		}
	}
}
