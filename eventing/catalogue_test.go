package eventing_test

import (
	"os"
	"strings"
	"testing"

	"github.com/xmojo/diary/eventing"
)

// TestDocsListTheCatalogue keeps docs/events.md in step with Catalogue.
func TestDocsListTheCatalogue(t *testing.T) {
	raw, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatalf("read docs/events.md: %v", err)
	}
	doc := string(raw)
	for _, spec := range eventing.Catalogue {
		for _, want := range append([]string{spec.Type, spec.Source}, spec.Consumers...) {
			if !strings.Contains(doc, "`"+want+"`") {
				t.Errorf("docs/events.md does not mention `%s` (catalogue entry %s)", want, spec.Type)
			}
		}
	}
}
