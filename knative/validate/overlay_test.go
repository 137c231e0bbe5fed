package validate

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/xmojo/diary/knative/validate/deploy"
)

const repoRoot = "../.."

// thor is what the issue asks of the production overlay.
const (
	thorNamespace = "personal-diary"
	thorHost      = "api.diary.xmojo.net"
)

// overlays lists the targets under knative/overlays.
func overlays(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "knative", "overlays", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no overlays under knative/overlays: %v", err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	return names
}

func renderTarget(t *testing.T, target string) (*deploy.Rendered, deploy.Settings) {
	t.Helper()
	settings, err := deploy.LoadSettings(filepath.Join(repoRoot, "knative", "overlays", target))
	if err != nil {
		t.Fatal(err)
	}
	// Every manifest, the OIDC policies included, whatever the target's cluster has on.
	settings.EventingOIDC = true
	r, err := deploy.Render(repoRoot, target, settings)
	if err != nil {
		t.Fatalf("Render(%s) = %v", target, err)
	}
	return r, settings
}

// TestOverlaysPassKnativeValidation builds every overlay with the kustomize Go API, renders
// the eventing manifests into its namespace as scripts/deploy does, and checks every
// resulting object with Knative's own defaulting and validation (check), and that each
// lands in the overlay's namespace.
func TestOverlaysPassKnativeValidation(t *testing.T) {
	for _, target := range overlays(t) {
		t.Run(target, func(t *testing.T) {
			r, _ := renderTarget(t, target)
			kinds := map[string]int{}
			for _, o := range append(append([]deploy.Object{}, r.Overlay...), r.Eventing...) {
				skip, err := check(o.YAML)
				var warn *warning
				if errors.As(err, &warn) {
					t.Logf("%s %s: %v", o.Kind, o.Name, warn)
					err = nil
				}
				if err != nil {
					t.Errorf("%s %s: %v", o.Kind, o.Name, err)
				}
				if skip != "" {
					t.Errorf("%s %s: rendered, but not validated: %s", o.Kind, o.Name, skip)
				}
				kinds[o.Kind]++
				switch {
				case o.Kind == "Namespace":
					if o.Name != r.Namespace {
						t.Errorf("Namespace %s, want the overlay's %s", o.Name, r.Namespace)
					}
				case o.Kind == "ClusterDomainClaim":
					if o.Namespace != "" {
						t.Errorf("ClusterDomainClaim %s has namespace %q: it is cluster-scoped", o.Name, o.Namespace)
					}
				case o.Namespace != r.Namespace:
					t.Errorf("%s %s is in namespace %q, want %q", o.Kind, o.Name, o.Namespace, r.Namespace)
				}
			}
			// Every eventing document is rendered: none is lost on the way.
			want := 0
			for _, dir := range []string{"manifests", "manifests/oidc"} {
				files, _ := filepath.Glob(filepath.Join(repoRoot, "eventing", dir, "*.yaml"))
				for _, f := range files {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					want += len(documents(raw))
				}
			}
			if len(r.Eventing) != want {
				t.Errorf("rendered %d eventing objects, want the %d documents of eventing/manifests", len(r.Eventing), want)
			}
			for _, kind := range []string{"Namespace", "ConfigMap", "DomainMapping", "Job", "Broker", "Trigger", "PingSource"} {
				if kinds[kind] == 0 {
					t.Errorf("the rendered %s overlay has no %s", target, kind)
				}
			}
			t.Logf("validated: %v", kinds)
		})
	}
}

// TestThorOverlay checks what the issue asks of thor: the namespace, the host in the
// DomainMapping and PUBLIC_URL, the claim on the host, the ko-built migration image, and
// no trace of the base's placeholder namespace or host.
func TestThorOverlay(t *testing.T) {
	r, settings := renderTarget(t, "thor")
	if r.Namespace != thorNamespace || r.Host != thorHost {
		t.Errorf("thor renders namespace %q host %q, want %q %q", r.Namespace, r.Host, thorNamespace, thorHost)
	}
	if settings.Context != "thor" || settings.ClusterIssuer == "" {
		t.Errorf("thor's deploy.yaml: context %q, clusterIssuer %q", settings.Context, settings.ClusterIssuer)
	}
	var claimed, publicURL, image bool
	for _, o := range r.Overlay {
		switch o.Kind {
		case "ConfigMap":
			data, _ := o.Fields["data"].(map[string]any)
			publicURL = data["PUBLIC_URL"] == "https://"+thorHost
			if !publicURL {
				t.Errorf("ConfigMap %s: PUBLIC_URL = %v, want https://%s", o.Name, data["PUBLIC_URL"], thorHost)
			}
		case "ClusterDomainClaim":
			spec, _ := o.Fields["spec"].(map[string]any)
			claimed = o.Name == thorHost && spec["namespace"] == thorNamespace
		case "Job":
			image = strings.Contains(string(o.YAML), "image: "+deploy.MigrateImage+"\n")
		}
	}
	if !claimed || !publicURL || !image {
		t.Errorf("thor: ClusterDomainClaim for %s in %s %v, PUBLIC_URL %v, Job image %s %v", thorHost, thorNamespace, claimed, publicURL, deploy.MigrateImage, image)
	}
	placeholder := regexp.MustCompile(`namespace: diary\n|namespaces/diary/|\.diary\.svc|diary\.example\.com`)
	for _, o := range append(append([]deploy.Object{}, r.Overlay...), r.Eventing...) {
		if m := placeholder.Find(o.YAML); m != nil {
			t.Errorf("%s %s still holds the base's placeholder %q", o.Kind, o.Name, m)
		}
	}
}

// TestPingSourceFiltersFollowTheNamespace: Knative puts a PingSource's namespace in the
// source of its ticks, so every Trigger and EventPolicy that filters on a PingSource's
// source must name, after rendering, a PingSource that exists in the target's namespace.
func TestPingSourceFiltersFollowTheNamespace(t *testing.T) {
	r, _ := renderTarget(t, "thor")
	pings := map[string]bool{}
	for _, o := range r.Eventing {
		if o.Kind == "PingSource" {
			pings["/apis/v1/namespaces/"+o.Namespace+"/pingsources/"+o.Name] = true
		}
	}
	uri := regexp.MustCompile(`/apis/v1/namespaces/[^/\s"']+/pingsources/[^/\s"']+`)
	found := 0
	for _, o := range r.Eventing {
		if o.Kind != "Trigger" && o.Kind != "EventPolicy" {
			continue
		}
		for _, src := range uri.FindAllString(string(o.YAML), -1) {
			found++
			if !pings[src] {
				t.Errorf("%s %s filters on source %s: no PingSource of the rendered namespace sends it (have %v)", o.Kind, o.Name, src, pings)
			}
		}
	}
	if found == 0 {
		t.Error("no Trigger or EventPolicy filters on a PingSource's source: the check checked nothing")
	}
}

// TestDeploySettingsOfEveryOverlay: each overlay's deploy.yaml loads and names its own
// target as the kubectl context, and no function's func.yaml fixes a namespace.
func TestDeploySettingsOfEveryOverlay(t *testing.T) {
	for _, target := range overlays(t) {
		s, err := deploy.LoadSettings(filepath.Join(repoRoot, "knative", "overlays", target))
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if s.Context != target {
			t.Errorf("%s/deploy.yaml: context %q, want %q (scripts/deploy --context names both)", target, s.Context, target)
		}
	}
	fns, err := deploy.Discover(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		if fn.Namespace != "" || fn.DeployNamespace != "" {
			t.Errorf("%s/func.yaml: namespace %q, deploy.namespace %q; want none (func deploy --namespace gives it)", fn.Dir, fn.Namespace, fn.DeployNamespace)
		}
	}
}

// TestSecretsFileCheck: scripts/deploy refuses a secrets file that lacks a key or keeps
// the template's placeholder, and names keys, never values.
func TestSecretsFileCheck(t *testing.T) {
	keys := []string{"DATABASE_URL", "SESSION_KEY"}
	tests := []struct {
		name, content, want string
	}{
		{"complete", "# comment\nDATABASE_URL=postgres://u:secretpw@db:5432/d\nSESSION_KEY=c2Vzc2lvbg==\n", ""},
		{"a key missing", "DATABASE_URL=postgres://u:secretpw@db:5432/d\n", "missing [SESSION_KEY]"},
		{"an empty value", "DATABASE_URL=postgres://u:secretpw@db:5432/d\nSESSION_KEY=\n", "missing [SESSION_KEY]"},
		{"the template's placeholder", "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DATABASE\nSESSION_KEY=REPLACE_WITH_BASE64_32_RANDOM_BYTES\n", "placeholder [DATABASE_URL SESSION_KEY]"},
		{"not KEY=VALUE", "DATABASE_URL postgres\n", "not KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "secrets.env")
			if err := os.WriteFile(f, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			err := deploy.CheckSecretsFile(f, keys)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckSecretsFile(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckSecretsFile(%s) = %v, want an error with %q", tt.name, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secretpw") {
				t.Errorf("CheckSecretsFile(%s) = %v: the error shows a value", tt.name, err)
			}
		})
	}
}

// TestSecretTemplateIsNotAnApplicableSecret: the template is listed by no kustomization,
// so no build ever applies its placeholders.
func TestSecretTemplateIsNotRendered(t *testing.T) {
	r, _ := renderTarget(t, "thor")
	for _, o := range r.Overlay {
		if o.Kind == "Secret" {
			t.Errorf("the overlay renders Secret %s: the real one comes from the operator's file", o.Name)
		}
	}
	var tmpl struct {
		Kind string `json:"kind"`
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "knative", "secret.template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil || tmpl.Kind != "Secret" {
		t.Fatalf("secret.template.yaml: kind %q, %v", tmpl.Kind, err)
	}
}
