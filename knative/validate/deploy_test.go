package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/xmojo/diary/knative/validate/deploy"
)

// dryRun runs `scripts/deploy --dry-run --context thor` from the repository, as an
// operator would from a clone, with no kubectl, ko or func on PATH (only go): a dry run
// must not need them.
func dryRun(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	// The script's own needs (bash, dirname) and go; nothing else is on PATH.
	for _, tool := range []string{"go", "bash", "dirname"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := filepath.Abs(repoRoot)
	cmd := exec.Command("scripts/deploy", "--dry-run", "--context", "thor")
	cmd.Dir = root
	env := []string{"PATH=" + bin, "CGO_ENABLED=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "DIARY_") && !strings.HasPrefix(kv, "CGO_ENABLED=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/deploy --dry-run --context thor: %v\n%s", err, out)
	}
	return string(out)
}

// commands returns the plan's "$ " lines, in order.
func commands(out string) []string {
	var cmds []string
	for _, line := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(line, "$ "); ok {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// index returns the position of the first command containing all of parts, or -1.
func index(cmds []string, parts ...string) int {
	return slices.IndexFunc(cmds, func(c string) bool {
		for _, p := range parts {
			if !strings.Contains(c, p) {
				return false
			}
		}
		return true
	})
}

// TestDeployDryRunPlan runs the dry run and checks the plan: its order (context check,
// namespace, Secret, migration image, overlay, Job wait, eventing, every function with
// the gateway last, smoke tests), that every discovered function is deployed into
// personal-diary, and that every rendered object is in personal-diary.
func TestDeployDryRunPlan(t *testing.T) {
	out := dryRun(t)
	cmds := commands(out)
	if len(cmds) == 0 {
		t.Fatalf("the dry run printed no command:\n%s", out)
	}
	if cmds[0] != "kubectl config current-context" || !strings.Contains(out, "its output must be: thor") {
		t.Errorf("the first step is %q, want the context check against thor", cmds[0])
	}
	ns := "-n " + thorNamespace
	order := []struct {
		what  string
		parts []string
	}{
		{"namespace", []string{"kubectl --context thor apply -f - < namespace.yaml"}},
		{"secret", []string{"create secret generic diary-secrets", ns, "--from-env-file="}},
		{"secret apply", []string{"apply -f - < secret.yaml"}},
		{"ClusterIssuer", []string{"get clusterissuer letsencrypt-prod"}},
		{"external-domain-tls", []string{"config-network", "external-domain-tls"}},
		{"old Job", []string{"delete job diary-migrate", ns}},
		{"ko resolve", []string{"ko resolve", "< overlay.yaml", "KO_DOCKER_REPO="}},
		{"overlay", []string{"apply -f - < overlay.resolved.yaml"}},
		{"Job wait", []string{"wait --for=condition=complete job/diary-migrate", ns}},
		{"eventing", []string{"apply -f - < eventing.yaml"}},
	}
	last := -1
	for _, o := range order {
		i := index(cmds, o.parts...)
		if i < 0 {
			t.Errorf("no %s step (a command with %q)", o.what, o.parts)
			continue
		}
		if i <= last {
			t.Errorf("the %s step (%d) comes before the step it must follow (%d)", o.what, i, last)
		}
		last = i
	}
	for _, c := range cmds {
		if strings.HasPrefix(c, "kubectl") && !strings.HasPrefix(c, "kubectl config") && !strings.HasPrefix(c, "kubectl --context thor ") {
			t.Errorf("%q does not name the context thor", c)
		}
		if i := strings.Index(c, " -n "); i >= 0 && !strings.Contains(c, ns) && !strings.Contains(c, "-n knative-serving") {
			t.Errorf("%q runs in another namespace than %s", c, thorNamespace)
		}
	}

	// Every function of the repository, each into personal-diary, the gateway last, after
	// the eventing manifests; then the smoke tests.
	fns, err := deploy.Discover(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var deploys []int
	for _, fn := range fns {
		i := index(cmds, "func deploy --path "+fn.Dir+" ", "--namespace "+thorNamespace)
		if i < 0 {
			t.Errorf("no func deploy of %s (%s) into %s", fn.Name, fn.Dir, thorNamespace)
			continue
		}
		deploys = append(deploys, i)
	}
	if n := strings.Count(out, "\n$ func deploy "); n != len(fns) {
		t.Errorf("%d func deploy commands, want one per function (%d)", n, len(fns))
	}
	gw := index(cmds, "func deploy --path . ")
	for _, i := range deploys {
		if i > gw {
			t.Errorf("%q comes after the gateway's deploy", cmds[i])
		}
		if i < last {
			t.Errorf("%q comes before the eventing manifests are applied", cmds[i])
		}
	}
	if gw >= 0 {
		for _, up := range []string{"AUTH_URL", "ENTRIES_URL", "MEDIA_URL", "JOBS_URL"} {
			want := "--env " + up + "=http://" + strings.ToLower(strings.TrimSuffix(up, "_URL")) + "." + thorNamespace + ".svc.cluster.local"
			if !strings.Contains(cmds[gw], want) {
				t.Errorf("the gateway's deploy lacks %q: %s", want, cmds[gw])
			}
		}
	}
	health := index(cmds, "curl", "https://"+thorHost+"/health")
	openapi := index(cmds, "curl", "https://"+thorHost+"/api/v1/openapi.json")
	if health < gw || openapi < gw || health < 0 || openapi < 0 {
		t.Errorf("smoke tests at %d and %d, want both after the gateway's deploy (%d)", health, openapi, gw)
	}

	// The rendered manifests: every object in personal-diary (the cluster-scoped claim
	// excepted), none left in the base's namespace.
	sections := strings.Split(out, "\n# ==== rendered ")
	if len(sections) < 4 {
		t.Fatalf("the dry run printed %d manifest streams, want namespace, overlay and eventing", len(sections)-1)
	}
	objects := 0
	for _, sec := range sections[1:] {
		name, body, _ := strings.Cut(sec, " ====\n")
		for _, doc := range documents([]byte(body)) {
			var o struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name, Namespace string
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &o); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			objects++
			switch o.Kind {
			case "Namespace":
				if o.Metadata.Name != thorNamespace {
					t.Errorf("%s: Namespace %s", name, o.Metadata.Name)
				}
			case "ClusterDomainClaim":
			default:
				if o.Metadata.Namespace != thorNamespace {
					t.Errorf("%s: %s %s in namespace %q, want %s", name, o.Kind, o.Metadata.Name, o.Metadata.Namespace, thorNamespace)
				}
			}
		}
	}
	if objects < 10 {
		t.Errorf("only %d rendered objects printed", objects)
	}
	for _, bad := range []string{"namespace: diary\n", "namespaces/diary/", ".diary.svc", "diary.example.com"} {
		if strings.Contains(out, bad) {
			t.Errorf("the plan still holds the base's %q", bad)
		}
	}
}
