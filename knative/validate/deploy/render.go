package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Settings are what a target needs besides its manifests: knative/overlays/<target>/deploy.yaml.
type Settings struct {
	// Context is the kubectl context the deployment insists on.
	Context string `json:"context"`
	// ClusterIssuer is the cert-manager ClusterIssuer that signs the public host's
	// certificate (Knative's external-domain-tls).
	ClusterIssuer string `json:"clusterIssuer"`
	// EventingOIDC says the cluster has Knative Eventing's authentication-oidc on, so the
	// EventPolicies of eventing/manifests/oidc are applied too.
	EventingOIDC bool `json:"eventingOIDC"`
}

// SettingsKind is the kind of deploy.yaml.
const SettingsKind = "DeploySettings"

// LoadSettings reads the target's deploy.yaml.
func LoadSettings(overlayDir string) (Settings, error) {
	p := filepath.Join(overlayDir, "deploy.yaml")
	raw, err := os.ReadFile(p)
	if err != nil {
		return Settings{}, fmt.Errorf("deploy: settings: %w", err)
	}
	var s struct {
		Kind string `json:"kind"`
		Settings
	}
	if err := yaml.Unmarshal(raw, &s); err != nil {
		return Settings{}, fmt.Errorf("deploy: %s: %w", p, err)
	}
	switch {
	case s.Kind != SettingsKind:
		return Settings{}, fmt.Errorf("deploy: %s: kind %q, want %s", p, s.Kind, SettingsKind)
	case s.Context == "":
		return Settings{}, fmt.Errorf("deploy: %s: context is empty", p)
	case s.ClusterIssuer == "":
		return Settings{}, fmt.Errorf("deploy: %s: clusterIssuer is empty", p)
	}
	return s.Settings, nil
}

// Object is one rendered manifest.
type Object struct {
	APIVersion, Kind, Name, Namespace string
	// YAML is the object as one YAML document.
	YAML []byte
	// Fields is the object decoded.
	Fields map[string]any
}

// Rendered is a target's manifests, rendered into its namespace.
type Rendered struct {
	// Namespace is the overlay's namespace: where everything runs.
	Namespace string
	// Host is the public host: the DomainMapping's name.
	Host string
	// Overlay is knative/overlays/<target> rendered (Namespace first, as kustomize orders).
	Overlay []Object
	// Eventing is every eventing/manifests/*.yaml (and oidc/*.yaml when the target has
	// OIDC on) rendered into Namespace.
	Eventing []Object
}

// Render renders the overlay of target in the repository at repo, and the eventing
// manifests into the overlay's namespace, both with the kustomize Go API.
func Render(repo, target string, settings Settings) (*Rendered, error) {
	overlayDir := filepath.Join(repo, "knative", "overlays", target)
	ns, err := overlayNamespace(overlayDir)
	if err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), overlayDir)
	if err != nil {
		return nil, fmt.Errorf("deploy: kustomize build %s: %w", overlayDir, err)
	}
	raw, err := resMap.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("deploy: %s: %w", overlayDir, err)
	}
	overlay, err := splitObjects(raw)
	if err != nil {
		return nil, fmt.Errorf("deploy: %s: %w", overlayDir, err)
	}
	for i := range overlay {
		if err := clusterScoped(&overlay[i]); err != nil {
			return nil, err
		}
	}
	r := &Rendered{Namespace: ns, Overlay: overlay}
	for _, o := range overlay {
		if o.Kind == "DomainMapping" {
			if r.Host != "" {
				return nil, fmt.Errorf("deploy: %s maps two hosts (%s, %s): the smoke test needs one", overlayDir, r.Host, o.Name)
			}
			r.Host = o.Name
		}
	}
	if r.Host == "" {
		return nil, fmt.Errorf("deploy: %s has no DomainMapping", overlayDir)
	}
	dirs := []string{filepath.Join(repo, "eventing", "manifests")}
	if settings.EventingOIDC {
		dirs = append(dirs, filepath.Join(repo, "eventing", "manifests", "oidc"))
	}
	if r.Eventing, err = renderEventing(dirs, ns); err != nil {
		return nil, err
	}
	return r, nil
}

// clusterScopedKinds are the kinds of the overlay that live in no namespace but that
// kustomize, which knows only Kubernetes' own kinds, puts in the overlay's.
var clusterScopedKinds = map[string]bool{"ClusterDomainClaim": true}

// clusterScoped takes the namespace off a cluster-scoped object.
func clusterScoped(o *Object) error {
	if !clusterScopedKinds[o.Kind] || o.Namespace == "" {
		return nil
	}
	delete(o.Fields["metadata"].(map[string]any), "namespace")
	o.Namespace = ""
	raw, err := yaml.Marshal(o.Fields)
	if err != nil {
		return fmt.Errorf("deploy: %s %s: %w", o.Kind, o.Name, err)
	}
	o.YAML = raw
	return nil
}

// overlayNamespace reads the namespace the overlay's kustomization sets.
func overlayNamespace(overlayDir string) (string, error) {
	p := filepath.Join(overlayDir, "kustomization.yaml")
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("deploy: overlay: %w", err)
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(raw, &k); err != nil {
		return "", fmt.Errorf("deploy: %s: %w", p, err)
	}
	if k.Namespace == "" {
		return "", fmt.Errorf("deploy: %s sets no namespace", p)
	}
	return k.Namespace, nil
}

// renderEventing renders the YAML files of dirs into namespace: a kustomization written
// in memory (one in eventing/manifests would be read by the local runner, which loads
// every YAML file there) lists them and sets the namespace; then every PingSource source
// a Trigger or EventPolicy filters on is rewritten to the namespace's, since Knative puts
// the PingSource's namespace in the source of its ticks.
func renderEventing(dirs []string, namespace string) ([]Object, error) {
	mem := filesys.MakeFsInMemory()
	k := types.Kustomization{Namespace: namespace}
	k.APIVersion, k.Kind = types.KustomizationVersion, types.KustomizationKind
	for i, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("deploy: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("deploy: %w", err)
			}
			name := path.Join(fmt.Sprintf("d%d", i), filepath.Base(f))
			if err := mem.WriteFile(path.Join("/eventing", name), raw); err != nil {
				return nil, fmt.Errorf("deploy: %w", err)
			}
			k.Resources = append(k.Resources, name)
		}
	}
	if len(k.Resources) == 0 {
		return nil, fmt.Errorf("deploy: no eventing manifests in %v", dirs)
	}
	kraw, err := yaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if err := mem.WriteFile("/eventing/kustomization.yaml", kraw); err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/eventing")
	if err != nil {
		return nil, fmt.Errorf("deploy: kustomize build of the eventing manifests: %w", err)
	}
	raw, err := resMap.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("deploy: eventing manifests: %w", err)
	}
	objs, err := splitObjects(raw)
	if err != nil {
		return nil, fmt.Errorf("deploy: eventing manifests: %w", err)
	}
	for i := range objs {
		if objs[i].Kind != "Trigger" && objs[i].Kind != "EventPolicy" {
			continue
		}
		if rewritePingSources(objs[i].Fields, namespace) {
			if objs[i].YAML, err = yaml.Marshal(objs[i].Fields); err != nil {
				return nil, fmt.Errorf("deploy: %s %s: %w", objs[i].Kind, objs[i].Name, err)
			}
		}
	}
	return objs, nil
}

// pingSourceURI matches the source of a PingSource's ticks, /apis/v1/namespaces/<ns>/pingsources/<name>.
var pingSourceURI = regexp.MustCompile(`^/apis/v1/namespaces/[^/]+/pingsources/([^/]+)$`)

// rewritePingSources sets the namespace of every PingSource source URI in v to namespace,
// reporting whether it changed any.
func rewritePingSources(v any, namespace string) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok {
				if m := pingSourceURI.FindStringSubmatch(s); m != nil {
					if u := "/apis/v1/namespaces/" + namespace + "/pingsources/" + m[1]; u != s {
						t[k], changed = u, true
					}
				}
				continue
			}
			changed = rewritePingSources(e, namespace) || changed
		}
	case []any:
		for _, e := range t {
			changed = rewritePingSources(e, namespace) || changed
		}
	}
	return changed
}

// splitObjects splits kustomize's output into its objects.
func splitObjects(raw []byte) ([]Object, error) {
	var objs []Object
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var fields map[string]any
		if err := yaml.Unmarshal(doc, &fields); err != nil {
			return nil, err
		}
		meta, _ := fields["metadata"].(map[string]any)
		o := Object{YAML: append(bytes.TrimRight(doc, "\n"), '\n'), Fields: fields}
		o.APIVersion, _ = fields["apiVersion"].(string)
		o.Kind, _ = fields["kind"].(string)
		o.Name, _ = meta["name"].(string)
		o.Namespace, _ = meta["namespace"].(string)
		objs = append(objs, o)
	}
	return objs, nil
}

// Stream joins objects into one YAML stream.
func Stream(objs []Object) []byte {
	var b bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(o.YAML)
	}
	return b.Bytes()
}

// TemplateSecret reads knative/secret.template.yaml: the Secret's name and the keys it
// documents.
func TemplateSecret(repo string) (name string, keys []string, err error) {
	p := filepath.Join(repo, "knative", "secret.template.yaml")
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", nil, fmt.Errorf("deploy: %w", err)
	}
	var s struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.Unmarshal(raw, &s); err != nil {
		return "", nil, fmt.Errorf("deploy: %s: %w", p, err)
	}
	for k := range s.StringData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if s.Metadata.Name == "" || len(keys) == 0 {
		return "", nil, fmt.Errorf("deploy: %s: no name or no keys", p)
	}
	return s.Metadata.Name, keys, nil
}

// placeholder marks a value left as the template has it.
var placeholder = regexp.MustCompile(`REPLACE_WITH|USER:PASSWORD@HOST`)

// CheckSecretsFile checks the operator's env file (KEY=VALUE lines, as kubectl create
// secret --from-env-file reads it) holds every key in keys, each with a value that is not
// the template's placeholder. Errors name keys, never values.
func CheckSecretsFile(file string, keys []string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("deploy: secrets file: %w", err)
	}
	have := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("deploy: secrets file %s: a line is not KEY=VALUE", file)
		}
		have[k] = v
	}
	var missing, unfilled []string
	for _, k := range keys {
		v, ok := have[k]
		switch {
		case !ok || v == "":
			missing = append(missing, k)
		case placeholder.MatchString(v):
			unfilled = append(unfilled, k)
		}
	}
	if len(missing) > 0 || len(unfilled) > 0 {
		return fmt.Errorf("deploy: secrets file %s: missing %v, still the template's placeholder %v", file, missing, unfilled)
	}
	return nil
}
