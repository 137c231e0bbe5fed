// Package deploy is the rollout of the project to a Knative cluster, as scripts/deploy runs
// it: it discovers what to deploy from the repository (every functions/*/func.yaml and the
// gateway's func.yaml at the root, the overlay under knative/overlays/<target>, the
// eventing manifests), renders the manifests with the kustomize Go API into the target's
// namespace, and builds the ordered list of commands (Plan) that a dry run prints and a
// real run executes. Nothing here names a function: a new func.yaml, Trigger or
// PingSource is in the next plan without an edit.
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"sigs.k8s.io/yaml"
)

// Function is one knative/func function of the repository.
type Function struct {
	// Name is func.yaml's name: the Knative Service's name.
	Name string
	// Dir is the function's directory relative to the repository root ("." for the
	// gateway).
	Dir string
	// Invoke is func.yaml's invoke: http or cloudevent.
	Invoke string
	// Envs are func.yaml's run.envs, in order.
	Envs []Env
	// Namespace and DeployNamespace are func.yaml's namespace and deploy.namespace, which
	// must be empty: the namespace is the target's, given with func deploy --namespace.
	Namespace, DeployNamespace string
}

// Env is one entry of func.yaml's run.envs.
type Env struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type funcYAML struct {
	Name      string `json:"name"`
	Invoke    string `json:"invoke"`
	Namespace string `json:"namespace"`
	Run       struct {
		Envs []Env `json:"envs"`
	} `json:"run"`
	Deploy struct {
		Namespace string `json:"namespace"`
	} `json:"deploy"`
}

// Gateway is the directory of the public gateway function: the repository root.
const Gateway = "."

// Discover reads the functions of the repository at repo: every functions/*/func.yaml,
// sorted by directory, then the gateway's func.yaml at the root, always last.
func Discover(repo string) ([]Function, error) {
	paths, err := filepath.Glob(filepath.Join(repo, "functions", "*", "func.yaml"))
	if err != nil {
		return nil, fmt.Errorf("deploy: discover functions: %w", err)
	}
	sort.Strings(paths)
	var fns []Function
	for _, p := range paths {
		dir, _ := filepath.Rel(repo, filepath.Dir(p))
		fn, err := readFunction(repo, filepath.ToSlash(dir))
		if err != nil {
			return nil, err
		}
		fns = append(fns, fn)
	}
	gw, err := readFunction(repo, Gateway)
	if err != nil {
		return nil, err
	}
	return append(fns, gw), nil
}

func readFunction(repo, dir string) (Function, error) {
	path := filepath.Join(repo, dir, "func.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return Function{}, fmt.Errorf("deploy: %w", err)
	}
	var f funcYAML
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return Function{}, fmt.Errorf("deploy: %s: %w", path, err)
	}
	if f.Name == "" {
		return Function{}, fmt.Errorf("deploy: %s: no name", path)
	}
	return Function{Name: f.Name, Dir: dir, Invoke: f.Invoke, Envs: f.Run.Envs,
		Namespace: f.Namespace, DeployNamespace: f.Deploy.Namespace}, nil
}

// clusterLocalURL matches a cluster-local Knative Service URL: http://<service>.<namespace>.svc.cluster.local[/path].
var clusterLocalURL = regexp.MustCompile(`^(https?)://([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\.cluster\.local(/.*)?$`)

// namespacedEnvs returns, for fn's envs that hold a cluster-local Service URL (the
// gateway's <GROUP>_URL), the same URL in namespace, as func deploy --env NAME=VALUE
// arguments: func.yaml names the services in the manifests' namespace, the deployment
// puts them in its own.
func namespacedEnvs(fn Function, namespace string) []string {
	var out []string
	for _, e := range fn.Envs {
		m := clusterLocalURL.FindStringSubmatch(e.Value)
		if m == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s=%s://%s.%s.svc.cluster.local%s", e.Name, m[1], m[2], namespace, m[6]))
	}
	return out
}

// secretRef matches func.yaml's reference to a Secret key.
var secretRef = regexp.MustCompile(`^\{\{\s*secret:([^:\s]+):([^:\s]+)\s*\}\}$`)

// SecretKeys returns the keys of the Secret named secret that the functions read, sorted.
func SecretKeys(fns []Function, secret string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, fn := range fns {
		for _, e := range fn.Envs {
			if m := secretRef.FindStringSubmatch(e.Value); m != nil && m[1] == secret && !seen[m[2]] {
				seen[m[2]] = true
				keys = append(keys, m[2])
			}
		}
	}
	sort.Strings(keys)
	return keys
}
