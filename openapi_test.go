package diary

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// minimalFragments returns a valid one-route fragment for every group.
func minimalFragments() map[string][]byte {
	frags := map[string][]byte{}
	for _, g := range groups {
		frags[g.name] = []byte(`{"paths":{"` + g.prefixes()[0] + `/x":{"get":{"responses":{"200":{"description":"ok"}}}}}}`)
	}
	return frags
}

func TestMergeOpenAPIRejectsBadFragments(t *testing.T) {
	okPath := `"/api/v1/auth/x":{"get":{"responses":{"200":{"description":"ok"}}}}`
	for _, tc := range []struct {
		name     string
		fragment string
		want     string
	}{
		{"not JSON", `{`, "auth fragment"},
		{"no paths", `{"paths":{}}`, "no paths"},
		{"unknown key", `{"paths":{` + okPath + `},"webhooks":{}}`, "webhooks"},
		{"outside prefix", `{"paths":{"/api/v1/other":{"get":{}}}}`, "outside /api/v1/auth"},
		{"prefix lookalike", `{"paths":{"/api/v1/authx":{"get":{}}}}`, "outside /api/v1/auth"},
		{"redefines root schema", `{"paths":{` + okPath + `},"components":{"schemas":{"Error":{"type":"string"}}}}`, "components.schemas.Error"},
		{"bad route template", `{"paths":{"/api/v1/auth/{id}.json":{"get":{}}}}`, "route GET /api/v1/auth/{id}.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frags := minimalFragments()
			frags["auth"] = []byte(tc.fragment)
			_, err := MergeOpenAPI(frags)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("MergeOpenAPI(auth: %s) = %v, want an error mentioning %q", tc.fragment, err, tc.want)
			}
		})
	}
	t.Run("a group without fragment", func(t *testing.T) {
		frags := minimalFragments()
		delete(frags, "media")
		if _, err := MergeOpenAPI(frags); err == nil || !strings.Contains(err.Error(), "no fragment for group media") {
			t.Fatalf("MergeOpenAPI(without media) = %v, want an error naming media", err)
		}
	})
	t.Run("a fragment for no group", func(t *testing.T) {
		frags := minimalFragments()
		frags["probe"] = frags["auth"]
		if _, err := MergeOpenAPI(frags); err == nil || !strings.Contains(err.Error(), "probe is not a group") {
			t.Fatalf("MergeOpenAPI(with probe) = %v, want an error naming probe", err)
		}
	})
	t.Run("identical shared schema", func(t *testing.T) {
		var root struct {
			Components struct {
				Schemas map[string]json.RawMessage `json:"schemas"`
			} `json:"components"`
		}
		decodeJSON(t, gatewayOpenAPI, &root)
		frags := minimalFragments()
		frags["auth"] = []byte(`{"openapi":"3.1.0","paths":{` + okPath + `},"components":{"schemas":{"Error":` + string(root.Components.Schemas["Error"]) + `}}}`)
		if _, err := MergeOpenAPI(frags); err != nil {
			t.Fatalf("MergeOpenAPI() = %v, want the identical Error schema accepted", err)
		}
	})
}

// TestServedOpenAPI: the gateway serves the committed document (with PUBLIC_URL as its
// server), and that document lists no /metrics: metrics are not on the public host.
func TestServedOpenAPI(t *testing.T) {
	f := startGateway(t, proxiedEnv("http://127.0.0.1:9", "PUBLIC_URL", "https://diary.example.com/"))
	res := testenv.Do(t, http.HandlerFunc(f.Handle), http.MethodGet, "/api/v1/openapi.json", "", nil)
	if res.Code != http.StatusOK || res.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json = %d %q", res.Code, res.Header().Get("Content-Type"))
	}
	var served, committed document
	decodeJSON(t, res.Body.Bytes(), &served)
	decodeJSON(t, servedOpenAPI, &committed)
	if len(served.Servers) != 1 || served.Servers[0].URL != "https://diary.example.com" {
		t.Errorf("servers = %+v, want [https://diary.example.com]", served.Servers)
	}
	served.Servers = committed.Servers
	a, _ := json.Marshal(served)
	b, _ := json.Marshal(committed)
	if !bytes.Equal(a, b) {
		t.Errorf("the served document differs from openapi.json beyond its servers")
	}
	if _, ok := committed.Paths["/metrics"]; ok {
		t.Errorf("openapi.json documents /metrics, which the public host does not serve")
	}
	for _, path := range []string{"/health", "/api/v1/openapi.json", "/api/v1/auth/login", "/api/v1/entries/{id}"} {
		if committed.Paths[path] == nil {
			t.Errorf("openapi.json lacks %s", path)
		}
	}
}

// decodeJSON is json.Unmarshal that fails the test.
func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
}
