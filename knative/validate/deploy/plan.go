package deploy

import (
	"fmt"
	"strings"
)

// Step is one command of a rollout.
type Step struct {
	// Title says what the step is for.
	Title string
	// Args is the command and its arguments.
	Args []string
	// Dir is the directory it runs in, relative to the repository root ("" is the root).
	Dir string
	// Env is extra environment, NAME=VALUE.
	Env []string
	// Stdin names the manifest stream (Plan.Manifests, or an earlier step's Stdout) fed
	// to the command.
	Stdin string
	// Stdout, when set, keeps the command's output under this name for later steps,
	// instead of printing it.
	Stdout string
	// Want, when set, is what the trimmed output must be (Exact) or contain: the step
	// fails otherwise.
	Want  string
	Exact bool
	// Secret says Stdout holds secret values: never printed, never written to disk.
	Secret bool
}

// Plan is a rollout: its steps in order and the manifests they apply.
type Plan struct {
	Context, Namespace, Host string
	Steps                    []Step
	// Manifests are the rendered streams the steps read, by name.
	Manifests map[string][]byte
	// Order is the order Manifests are printed in.
	Order []string
}

// Options are a rollout's inputs from the operator.
type Options struct {
	// Registry is where func deploy and ko push images (func's --registry; ko's
	// KO_DOCKER_REPO is Registry/migrate).
	Registry string
	// SecretsFile is the operator's KEY=VALUE file for the Secret.
	SecretsFile string
}

// Streams a plan's steps refer to.
const (
	streamNamespace = "namespace.yaml"
	streamOverlay   = "overlay.yaml"
	streamResolved  = "overlay.resolved.yaml"
	streamEventing  = "eventing.yaml"
	streamSecret    = "secret.yaml"
)

// MigrateImage is the ko import path of the migration command, as knative/migrate-job.yaml
// names it.
const MigrateImage = "ko://github.com/xmojo/diary/migrations/cmd/migrate"

// NewPlan builds the rollout of r with settings for fns (Discover's order: the gateway
// last), secret being the Secret's name and its keys.
func NewPlan(r *Rendered, settings Settings, fns []Function, secret string, opts Options) (*Plan, error) {
	if len(fns) == 0 || fns[len(fns)-1].Dir != Gateway {
		return nil, fmt.Errorf("deploy: the gateway must be the last function")
	}
	for _, fn := range fns {
		if fn.Namespace != "" || fn.DeployNamespace != "" {
			return nil, fmt.Errorf("deploy: %s/func.yaml sets a namespace (%q, deploy %q): remove it, the deployment gives it (func deploy --namespace)", fn.Dir, fn.Namespace, fn.DeployNamespace)
		}
	}
	ns, ctx := r.Namespace, settings.Context
	kubectl := func(args ...string) []string {
		return append([]string{"kubectl", "--context", ctx}, args...)
	}
	p := &Plan{Context: ctx, Namespace: ns, Host: r.Host, Manifests: map[string][]byte{}}
	add := func(s Step) { p.Steps = append(p.Steps, s) }
	manifest := func(name string, objs []Object) {
		p.Manifests[name] = Stream(objs)
		p.Order = append(p.Order, name)
	}

	var namespaces, rest, jobs []Object
	for _, o := range r.Overlay {
		switch o.Kind {
		case "Namespace":
			namespaces = append(namespaces, o)
		case "Job":
			jobs = append(jobs, o)
		}
		if o.Kind != "Namespace" {
			rest = append(rest, o)
		}
	}
	if len(namespaces) == 0 {
		return nil, fmt.Errorf("deploy: the overlay creates no Namespace")
	}
	manifest(streamNamespace, namespaces)
	manifest(streamOverlay, rest)
	manifest(streamEventing, r.Eventing)

	add(Step{Title: "refuse to run against any kubectl context but " + ctx + " (func deploy uses the current one)",
		Args: []string{"kubectl", "config", "current-context"}, Want: ctx, Exact: true})
	add(Step{Title: "the namespace " + ns, Args: kubectl("apply", "-f", "-"), Stdin: streamNamespace})

	secretsFile := opts.SecretsFile
	if secretsFile == "" {
		secretsFile = "<SECRETS_FILE>"
	}
	add(Step{Title: "the Secret " + secret + " from the operator's file (never from the repository)",
		Args:   kubectl("-n", ns, "create", "secret", "generic", secret, "--from-env-file="+secretsFile, "--dry-run=client", "-o", "yaml"),
		Stdout: streamSecret, Secret: true})
	add(Step{Title: "apply the Secret", Args: kubectl("apply", "-f", "-"), Stdin: streamSecret})

	add(Step{Title: "TLS: the ClusterIssuer " + settings.ClusterIssuer + " exists",
		Args: kubectl("get", "clusterissuer", settings.ClusterIssuer, "-o", "name")})
	add(Step{Title: "TLS: Knative's certificates for external domains come from it",
		Args: kubectl("-n", "knative-serving", "patch", "configmap", "config-certmanager", "--type", "merge",
			"-p", fmt.Sprintf(`{"data":{"issuerRef":"kind: ClusterIssuer\nname: %s\n"}}`, settings.ClusterIssuer))})
	add(Step{Title: "TLS: external-domain-tls on (DomainMappings get certificates)",
		Args: kubectl("-n", "knative-serving", "patch", "configmap", "config-network", "--type", "merge",
			"-p", `{"data":{"external-domain-tls":"Enabled"}}`)})

	registry := opts.Registry
	if registry == "" {
		registry = "<REGISTRY>"
	}
	for _, j := range jobs {
		add(Step{Title: "a Job's spec is immutable: remove the last run of " + j.Name,
			Args: kubectl("-n", ns, "delete", "job", j.Name, "--ignore-not-found", "--wait=true")})
	}
	add(Step{Title: "build and push the migration image, resolving " + MigrateImage,
		Args: []string{"ko", "resolve", "--bare", "-f", "-"}, Dir: "migrations",
		Env:   []string{"KO_DOCKER_REPO=" + registry + "/migrate", "GOWORK=off"},
		Stdin: streamOverlay, Stdout: streamResolved})
	add(Step{Title: "apply the overlay (configuration, public host, migration Job)",
		Args: kubectl("apply", "-f", "-"), Stdin: streamResolved})
	for _, j := range jobs {
		add(Step{Title: "wait for " + j.Name + " (the migrations) before any new revision",
			Args: kubectl("-n", ns, "wait", "--for=condition=complete", "job/"+j.Name, "--timeout=15m")})
	}
	add(Step{Title: "the eventing manifests (Broker, Triggers, PingSources, SinkBinding, dead letters, policies)",
		Args: kubectl("apply", "-f", "-"), Stdin: streamEventing})

	for _, fn := range fns {
		args := []string{"func", "deploy", "--path", fn.Dir, "--namespace", ns, "--registry", registry}
		title := "deploy " + fn.Name + " (" + fn.Invoke + ")"
		if fn.Dir == Gateway {
			title = "deploy the gateway " + fn.Name + ", last: it routes to the others"
			for _, e := range namespacedEnvs(fn, ns) {
				args = append(args, "--env", e)
			}
		}
		add(Step{Title: title, Args: args})
	}
	base := "https://" + r.Host
	add(Step{Title: "smoke test: the gateway answers on the public host over TLS",
		Args: curl(base + "/health"), Want: `"status":"ok"`})
	add(Step{Title: "smoke test: the OpenAPI document",
		Args: curl(base + "/api/v1/openapi.json"), Want: `"openapi"`})
	return p, nil
}

// curl fetches url, retrying for about five minutes while the certificate is issued and
// the gateway starts from zero.
func curl(url string) []string {
	return []string{"curl", "-fsS", "--retry", "30", "--retry-delay", "10", "--retry-all-errors", "--max-time", "30", url}
}

// Command renders a step as a shell line.
func (s Step) Command() string {
	var b strings.Builder
	if s.Dir != "" {
		fmt.Fprintf(&b, "(cd %s && ", s.Dir)
	}
	for _, e := range s.Env {
		b.WriteString(shellQuote(e) + " ")
	}
	for i, a := range s.Args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	if s.Stdin != "" {
		b.WriteString(" < " + s.Stdin)
	}
	if s.Dir != "" {
		b.WriteByte(')')
	}
	if s.Stdout != "" {
		b.WriteString(" > " + s.Stdout)
	}
	return b.String()
}

// shellQuote quotes a for a POSIX shell when it needs it.
func shellQuote(a string) string {
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%"
	if a != "" && strings.Trim(a, safe) == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
