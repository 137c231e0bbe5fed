package integration_test

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/integration"
)

// TestTokensAreBoundToTheirRow: a sealed token opens only for the user, row and provider
// it was sealed for, and under its key; a bad key setting names the variable, not the value.
func TestTokensAreBoundToTheirRow(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tokens, err := integration.NewTokens(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := tokens.Seal("user-1", "row-1", integration.Facebook, "EAAsecret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ct), "EAAsecret") {
		t.Fatal("the sealed token holds the token in the clear")
	}
	i := integration.Integration{ID: "row-1", UserID: "user-1", Provider: integration.Facebook, TokenCT: ct}
	if got, err := tokens.Open(i); err != nil || got != "EAAsecret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, moved := range map[string]integration.Integration{
		"another row":      {ID: "row-2", UserID: "user-1", Provider: integration.Facebook, TokenCT: ct},
		"another user":     {ID: "row-1", UserID: "user-2", Provider: integration.Facebook, TokenCT: ct},
		"another provider": {ID: "row-1", UserID: "user-1", Provider: "other", TokenCT: ct},
	} {
		if _, err := tokens.Open(moved); err == nil {
			t.Errorf("the token opened for %s", name)
		}
	}
	other, _ := integration.NewTokens(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if _, err := other.Open(i); err == nil {
		t.Error("the token opened under another key")
	}
	for _, bad := range []string{"", "c2hvcnQ=", "not base64!"} {
		if _, err := integration.NewTokens(bad); err == nil || !strings.Contains(err.Error(), "INTEGRATION_TOKEN_KEY") || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Errorf("NewTokens(%q) = %v, want an error naming the variable only", bad, err)
		}
	}
}
