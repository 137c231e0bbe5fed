package entryfields

import (
	"slices"
	"strings"
	"testing"
)

func TestNormaliseTags(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []string
		want []string
		bad  bool
	}{
		{"none", nil, []string{}, false},
		{"trimmed, lower-cased, unique, sorted", []string{" Lake", "summer", "lake ", "Ärger"}, []string{"lake", "summer", "ärger"}, false},
		{"empty tag", []string{"a", "  "}, nil, true},
		{"too long", []string{strings.Repeat("é", MaxTagChars+1)}, nil, true},
		{"longest", []string{strings.Repeat("é", MaxTagChars)}, []string{strings.Repeat("é", MaxTagChars)}, false},
		{"control character", []string{"a\tb"}, nil, true},
		{"too many", strings.Split(strings.Repeat("t,", MaxTags)+"t", ","), nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := NormaliseTags(tt.in)
			if (msg != "") != tt.bad || !slices.Equal(got, tt.want) {
				t.Errorf("NormaliseTags(%q) = %q, %q; want %q, bad %v", tt.in, got, msg, tt.want, tt.bad)
			}
		})
	}
}

func TestNormaliseMeta(t *testing.T) {
	mood := "  calm "
	fields := map[string]string{}
	m, tags := NormaliseMeta(&mood, []string{"B", "a"}, fields)
	if m == nil || *m != "calm" || !slices.Equal(tags, []string{"a", "b"}) || len(fields) != 0 {
		t.Errorf("NormaliseMeta(calm, [B a]) = %v, %q, %v", m, tags, fields)
	}
	blank := "   "
	if m, _ := NormaliseMeta(&blank, nil, fields); m != nil {
		t.Errorf("NormaliseMeta(blank mood) = %q, want nil (no mood)", *m)
	}
	long, ctrl := strings.Repeat("x", MaxMoodChars+1), "a\x07"
	for _, bad := range []string{long, ctrl} {
		fields := map[string]string{}
		if m, _ := NormaliseMeta(&bad, []string{""}, fields); m != nil || fields["mood"] == "" || fields["tags"] == "" {
			t.Errorf("NormaliseMeta(%q, [\"\"]) = %v, fields %v; want nil and both fields", bad, m, fields)
		}
	}
}

func TestCheckText(t *testing.T) {
	title := strings.Repeat("é", MaxTitleChars)
	if f := CheckText(&title, strings.Repeat("x", MaxContentBytes)); len(f) != 0 {
		t.Errorf("CheckText(at the limits) = %v, want none", f)
	}
	bad := "a\xffb"
	if f := CheckText(&bad, bad); f["title"] == "" || f["content"] == "" {
		t.Errorf("CheckText(invalid UTF-8) = %v, want title and content", f)
	}
	title += "é"
	if f := CheckText(&title, strings.Repeat("x", MaxContentBytes+1)); f["title"] == "" || f["content"] == "" {
		t.Errorf("CheckText(past the limits) = %v, want title and content", f)
	}
}

func TestSources(t *testing.T) {
	for _, s := range []string{"app", "facebook", "import", "dayone"} {
		if !ValidSource(s) {
			t.Errorf("ValidSource(%q) = false", s)
		}
	}
	if ValidSource("App") || ValidSource("") {
		t.Errorf("ValidSource accepts what it should not")
	}
	if DefaultSource != Sources[0] {
		t.Errorf("DefaultSource %q is not the first of Sources", DefaultSource)
	}
}
