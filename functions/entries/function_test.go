package entries

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestStart checks the lifecycle hooks: an empty setting fails Start naming it, a
// function not started answers 503 and is not ready, and a started one serves.
func TestStart(t *testing.T) {
	env := testenv.Env(t)
	for _, missing := range []string{"DATABASE_URL", "REDIS_URL", "JWT_PUBLIC_KEY", "SESSION_KEY"} {
		t.Run("empty "+missing, func(t *testing.T) {
			// config.Load overlays the map on the process environment, which holds the
			// test settings, so the setting is emptied rather than left out.
			partial := map[string]string{}
			for k, v := range env {
				partial[k] = v
			}
			partial[missing] = ""
			f := New()
			err := f.Start(context.Background(), partial)
			if err == nil || !strings.Contains(err.Error(), missing) {
				t.Fatalf("Start() with an empty %s = %v, want an error naming it", missing, err)
			}
			if ok, err := f.Ready(context.Background()); ok || err == nil {
				t.Errorf("Ready() after a failed Start = %v, %v, want false and an error", ok, err)
			}
			if res := testenv.Do(t, http.HandlerFunc(f.Handle), "GET", "/api/v1/entries", "", nil); res.Code != http.StatusServiceUnavailable {
				t.Errorf("Handle() after a failed Start = %d, want 503", res.Code)
			}
		})
	}
	t.Run("bad K_SINK", func(t *testing.T) {
		bad := map[string]string{}
		for k, v := range env {
			bad[k] = v
		}
		bad["K_SINK"] = "::not a url"
		if err := New().Start(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "K_SINK") {
			t.Errorf("Start() with a bad K_SINK = %v, want an error naming it", err)
		}
	})
	for _, v := range []string{"0", "-1", "4MiB"} {
		t.Run("ENTRY_PAGE_MAX_BYTES="+v, func(t *testing.T) {
			bad := map[string]string{}
			for k, v := range env {
				bad[k] = v
			}
			bad["ENTRY_PAGE_MAX_BYTES"] = v
			if err := New().Start(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "ENTRY_PAGE_MAX_BYTES") {
				t.Errorf("Start() with ENTRY_PAGE_MAX_BYTES=%s = %v, want an error naming it", v, err)
			}
		})
	}
	t.Run("configured", func(t *testing.T) {
		f := New()
		if err := f.Start(context.Background(), env); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		defer f.Stop(context.Background())
		if ok, err := f.Ready(context.Background()); !ok || err != nil {
			t.Errorf("Ready() = %v, %v, want true", ok, err)
		}
		if ok, err := f.Alive(context.Background()); !ok || err != nil {
			t.Errorf("Alive() = %v, %v, want true", ok, err)
		}
		u := testenv.NewUser(t, testenv.Services(t), "e2e")
		res := testenv.Do(t, http.HandlerFunc(f.Handle), "POST", "/api/v1/entries", u.AccessToken, map[string]any{"ciphertext": "AAAA"})
		if res.Code != http.StatusCreated {
			t.Errorf("Create on a started function = %d %s, want 201", res.Code, res.Body)
		}
	})
}

// TestOpenAPI checks the fragment describes exactly the routes the function serves, that
// its names carry the Entry prefix and that every reference resolves.
func TestOpenAPI(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("OpenAPI is not JSON: %v", err)
	}
	var described []string
	for path, item := range doc.Paths {
		for method := range item {
			if method != "parameters" {
				described = append(described, strings.ToUpper(method)+" "+path)
			}
		}
	}
	served := servedRoutes(t)
	slices.Sort(described)
	if !slices.Equal(described, served) {
		t.Errorf("OpenAPI describes %q, the function serves %q", described, served)
	}
	for kind, items := range doc.Components {
		for name := range items {
			if !strings.HasPrefix(name, "Entry") {
				t.Errorf("components.%s.%s is not prefixed with Entry", kind, name)
			}
		}
	}
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(OpenAPI), -1) {
		kind, name := m[1], m[2]
		if kind == "schemas" && name == "Error" {
			continue // the gateway's
		}
		if _, ok := doc.Components[kind][name]; !ok {
			t.Errorf("$ref #/components/%s/%s does not resolve", kind, name)
		}
	}
	if !strings.Contains(string(OpenAPI), `"bearerAuth"`) {
		t.Error("OpenAPI does not put the routes under bearerAuth")
	}
}

// servedRoutes is the route table in OpenAPI's form.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, rt := range routeTable(&api{}) {
		out = append(out, rt.Method+" "+basePath+rt.Path)
	}
	if len(out) == 0 {
		t.Fatal("the route table is empty")
	}
	slices.Sort(out)
	return out
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
