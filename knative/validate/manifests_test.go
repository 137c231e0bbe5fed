// Package validate checks the project's Kubernetes manifests with Knative's own Go types:
// every YAML document under eventing/ and knative/ is decoded strictly into the type of
// its apiVersion and kind, defaulted and validated as the Knative webhooks would on
// create (under the feature flags the object is meant for), and any error fails the test.
// Kubernetes' own kinds are decoded strictly, and a NetworkPolicy's selectors and ports
// go through apimachinery's validation. It is a module of its own (GOWORK=off, not in
// go.work) because it pulls in Kubernetes, which no function should build with.
package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	networkingv1alpha1 "knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingv1beta1 "knative.dev/serving/pkg/apis/serving/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/xmojo/diary/knative/validate/deploy"
)

// roots are the directories whose manifests are checked, relative to this package.
var roots = []string{"../../eventing", "../../knative"}

// knativeObject is what Knative's API types offer the webhooks.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// newObject returns an empty value of the Go type for apiVersion and kind, or a reason to
// skip the document, or an error for a kind this check does not know.
func newObject(apiVersion, kind string) (obj any, skip string, err error) {
	switch apiVersion + " " + kind {
	case "serving.knative.dev/v1 Service":
		return &servingv1.Service{}, "", nil
	case "serving.knative.dev/v1beta1 DomainMapping":
		return &servingv1beta1.DomainMapping{}, "", nil
	case "eventing.knative.dev/v1 Broker":
		return &eventingv1.Broker{}, "", nil
	case "eventing.knative.dev/v1 Trigger":
		return &eventingv1.Trigger{}, "", nil
	case "eventing.knative.dev/v1alpha1 EventPolicy":
		return &eventingv1alpha1.EventPolicy{}, "", nil
	case "sources.knative.dev/v1 PingSource":
		return &sourcesv1.PingSource{}, "", nil
	case "sources.knative.dev/v1 SinkBinding":
		return &sourcesv1.SinkBinding{}, "", nil
	case "v1 Namespace":
		return &corev1.Namespace{}, "", nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, "", nil
	case "v1 Secret":
		return &corev1.Secret{}, "", nil
	case "batch/v1 Job":
		return &batchv1.Job{}, "", nil
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, "", nil
	case "networking.internal.knative.dev/v1alpha1 ClusterDomainClaim":
		return &networkingv1alpha1.ClusterDomainClaim{}, "", nil
	case "deploy.diary.xmojo.net/v1 " + deploy.SettingsKind:
		return nil, "scripts/deploy's settings, not a cluster object (TestDeploySettingsOfEveryOverlay reads them)", nil
	case "monitoring.coreos.com/v1 PrometheusRule":
		return nil, "the Prometheus Operator's, checked by knative/monitoring's tests", nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return nil, "a kustomization is kustomize's input, not a cluster object; its resources are checked as files", nil
	}
	return nil, "", fmt.Errorf("no Go type known for apiVersion %q kind %q: add it to newObject", apiVersion, kind)
}

// oidcFlags are the feature flags of a cluster with Knative Eventing's sender identity on.
var oidcFlags = feature.Flags{feature.OIDCAuthentication: feature.Enabled}

// flagSets returns the feature flags a kind is validated under: the defaults and OIDC on,
// since the project's manifests are applied to clusters of both kinds, except an
// EventPolicy, which exists only where OIDC is on (the webhook refuses it elsewhere).
func flagSets(kind string) []feature.Flags {
	if kind == "EventPolicy" {
		return []feature.Flags{oidcFlags}
	}
	return []feature.Flags{{}, oidcFlags}
}

// validationContext is the context the webhooks validate a new object in: a create, with
// the given feature flags.
func validationContext(flags feature.Flags) context.Context {
	ctx := apis.WithinCreate(context.Background())
	return feature.ToContext(ctx, flags)
}

// check decodes one document strictly and, for Knative types, defaults and validates it.
func check(doc []byte) (skip string, err error) {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", fmt.Errorf("not YAML: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return "", fmt.Errorf("apiVersion and kind are required")
	}
	obj, skip, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil || skip != "" {
		return skip, err
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return "", fmt.Errorf("%s %s: strict decoding: %w", tm.Kind, tm.Metadata.Name, err)
	}
	if tm.Metadata.Name == "" {
		return "", fmt.Errorf("%s: metadata.name is empty", tm.Kind)
	}
	if np, ok := obj.(*networkingv1.NetworkPolicy); ok {
		if errs := checkNetworkPolicy(np); len(errs) > 0 {
			return "", fmt.Errorf("NetworkPolicy %s: %w", tm.Metadata.Name, errs.ToAggregate())
		}
	}
	if _, ok := obj.(knativeObject); !ok {
		return "", nil
	}
	var warnings []string
	for _, flags := range flagSets(tm.Kind) {
		// Defaulting changes the object: each flag set starts from the document.
		ko, _, _ := newObject(tm.APIVersion, tm.Kind)
		if err := yaml.UnmarshalStrict(doc, ko); err != nil {
			return "", err
		}
		ctx := validationContext(flags)
		ko.(knativeObject).SetDefaults(ctx)
		fe := ko.(knativeObject).Validate(ctx)
		if errs := fe.Filter(apis.ErrorLevel); errs != nil {
			return "", fmt.Errorf("%s %s (feature flags %v): %w", tm.Kind, tm.Metadata.Name, flags, errs)
		}
		if w := fe.Filter(apis.WarningLevel); w != nil {
			warnings = append(warnings, fmt.Sprintf("(feature flags %v) %v", flags, w))
		}
	}
	if len(warnings) > 0 {
		// The webhooks admit an object with warnings (kubectl prints them).
		return "", &warning{fmt.Sprintf("%s %s: %s", tm.Kind, tm.Metadata.Name, strings.Join(warnings, "; "))}
	}
	return "", nil
}

// checkNetworkPolicy checks what the API server would of a NetworkPolicy's selectors and
// ports, with apimachinery's validation (Kubernetes' own ValidateNetworkPolicy lives in
// k8s.io/kubernetes, which is not a library), and that it says which traffic it governs.
func checkNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	opts := metavalidation.LabelSelectorValidationOptions{}
	errs = append(errs, metavalidation.ValidateLabelSelector(&np.Spec.PodSelector, opts, spec.Child("podSelector"))...)
	if len(np.Spec.PolicyTypes) == 0 {
		errs = append(errs, field.Required(spec.Child("policyTypes"), "say Ingress and/or Egress, so the policy's reach does not depend on which rules happen to be listed"))
	}
	for i, pt := range np.Spec.PolicyTypes {
		if pt != networkingv1.PolicyTypeIngress && pt != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), pt, []string{"Ingress", "Egress"}))
		}
	}
	peers := func(path *field.Path, ps []networkingv1.NetworkPolicyPeer) {
		for j, p := range ps {
			pp := path.Index(j)
			if p.PodSelector == nil && p.NamespaceSelector == nil && p.IPBlock == nil {
				errs = append(errs, field.Required(pp, "a peer needs podSelector, namespaceSelector or ipBlock"))
			}
			errs = append(errs, metavalidation.ValidateLabelSelector(p.PodSelector, opts, pp.Child("podSelector"))...)
			errs = append(errs, metavalidation.ValidateLabelSelector(p.NamespaceSelector, opts, pp.Child("namespaceSelector"))...)
		}
	}
	ports := func(path *field.Path, ps []networkingv1.NetworkPolicyPort) {
		for j, p := range ps {
			if p.Port == nil {
				continue
			}
			var msgs []string
			if p.Port.StrVal != "" {
				msgs = validation.IsValidPortName(p.Port.StrVal)
			} else {
				msgs = validation.IsValidPortNum(int(p.Port.IntVal))
			}
			for _, m := range msgs {
				errs = append(errs, field.Invalid(path.Index(j).Child("port"), p.Port.String(), m))
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		peers(spec.Child("ingress").Index(i).Child("from"), r.From)
		ports(spec.Child("ingress").Index(i).Child("ports"), r.Ports)
	}
	for i, r := range np.Spec.Egress {
		peers(spec.Child("egress").Index(i).Child("to"), r.To)
		ports(spec.Child("egress").Index(i).Child("ports"), r.Ports)
	}
	return errs
}

// warning is a validation warning: reported, not a failure.
type warning struct{ msg string }

func (w *warning) Error() string { return "warning: " + w.msg }

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// documents splits a YAML stream at its "---" lines, dropping documents with no content.
func documents(raw []byte) [][]byte {
	var docs [][]byte
	for _, d := range documentSeparator.Split(string(raw), -1) {
		for _, line := range strings.Split(d, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				docs = append(docs, []byte(d))
				break
			}
		}
	}
	return docs
}

// manifestFiles lists the YAML files under roots, leaving out func.yaml (knative/func's
// own format, checked against its JSON schema elsewhere) and OpenAPI or test data.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && p != root) {
					return filepath.SkipDir
				}
				return nil
			}
			ext := filepath.Ext(p)
			if (ext == ".yaml" || ext == ".yml") && d.Name() != "func.yaml" {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	sort.Strings(files)
	return files
}

func TestManifestsPassKnativeValidation(t *testing.T) {
	files := manifestFiles(t)
	if len(files) == 0 {
		t.Fatal("no manifests found under eventing/ and knative/")
	}
	kinds := map[string]int{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(raw) {
			name := fmt.Sprintf("%s#%d", strings.TrimPrefix(file, "../../"), i+1)
			t.Run(name, func(t *testing.T) {
				skip, err := check(doc)
				var warn *warning
				if errors.As(err, &warn) {
					t.Logf("%s: %v", name, warn)
					err = nil
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if skip != "" {
					t.Logf("%s: not validated: %s", name, skip)
					return
				}
				var tm typeMeta
				_ = yaml.Unmarshal(doc, &tm)
				kinds[tm.Kind]++
			})
		}
	}
	// The eventing manifests the project cannot run without, and the rules of who may send
	// to the Broker and reach the consumers.
	for _, kind := range []string{"Broker", "Trigger", "PingSource", "SinkBinding", "EventPolicy", "NetworkPolicy"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s found under eventing/", kind)
		}
	}
	t.Logf("validated: %v", kinds)
}

// TestKustomizationResourcesExist checks what the skipped kustomization refers to.
func TestKustomizationResourcesExist(t *testing.T) {
	for _, file := range manifestFiles(t) {
		if filepath.Base(file) != "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Resources []string `json:"resources"`
		}
		if err := yaml.Unmarshal(raw, &k); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, r := range k.Resources {
			if _, err := os.Stat(filepath.Join(filepath.Dir(file), r)); err != nil {
				t.Errorf("%s lists %s: %v", file, r, err)
			}
		}
	}
}

// TestTheCheckCanFail proves the check rejects broken manifests.
func TestTheCheckCanFail(t *testing.T) {
	pingSource := func(schedule, timezone string) string {
		return `
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: daily-cleanup, namespace: diary}
spec:
  schedule: "` + schedule + `"
  timezone: ` + timezone + `
  contentType: application/json
  data: '{"job":"cleanup"}'
  sink:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"PingSource with a bad cron expression", pingSource("61 3 * * *", "Etc/UTC"), "schedule"},
		{"PingSource with six cron fields too many", pingSource("* * * * * * *", "Etc/UTC"), "schedule"},
		{"PingSource with an unknown time zone", pingSource("30 3 * * *", "Mars/Olympus"), "timezone"},
		{"PingSource with @every", pingSource("@every 1h", "Etc/UTC"), "schedule"},
		{"Trigger without subscriber", `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: janitor-daily-cleanup, namespace: diary}
spec:
  broker: default
  filter:
    attributes: {type: dev.knative.sources.ping}
`, "subscriber"},
		{"Trigger with a misspelt field", `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: diary}
spec:
  broker: default
  fliter:
    attributes: {type: dev.knative.sources.ping}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: janitor}
`, "fliter"},
		{"Broker with a bad backoff delay", `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: diary}
spec:
  delivery: {retry: 5, backoffPolicy: exponential, backoffDelay: half a second}
`, "backoffDelay"},
		{"Service without an image", `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: dead-letters, namespace: diary}
spec:
  template:
    spec:
      containers:
        - name: x
`, "image"},
		{"EventPolicy sender with neither ref nor sub", `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: p, namespace: diary}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
    - {}
`, "spec.from[0].ref, spec.from[0].sub"},
		{"EventPolicy with a wildcard inside a subject", `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: p, namespace: diary}
spec:
  from:
    - sub: "system:serviceaccount:*:janitor"
`, "suffix"},
		{"EventPolicy with a bad filter", `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: p, namespace: diary}
spec:
  from:
    - sub: system:serviceaccount:diary:x
  filters:
    - cesql: "type = "
`, "cesql"},
		{"NetworkPolicy with a misspelt field", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: n, namespace: diary}
spec:
  podSelecter:
    matchLabels: {serving.knative.dev/service: janitor}
  policyTypes: [Ingress]
`, "podSelecter"},
		{"NetworkPolicy with a bad label value", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: n, namespace: diary}
spec:
  podSelector:
    matchLabels: {serving.knative.dev/service: -janitor-}
  policyTypes: [Ingress]
`, "spec.podSelector.matchLabels"},
		{"NetworkPolicy with a port out of range", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: n, namespace: diary}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {}}]
      ports: [{port: 80120}]
`, "spec.ingress[0].ports[0].port"},
		{"NetworkPolicy without policyTypes", `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: n, namespace: diary}
spec:
  podSelector: {}
`, "policyTypes"},
		{"unknown kind", `
apiVersion: eventing.knative.dev/v1
kind: Channel
metadata: {name: c}
`, "no Go type known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check(%s) = %v, want an error mentioning %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestDocuments(t *testing.T) {
	raw := []byte("# only a comment\n---\na: 1\n--- # second\nb: 2\n---\n\n")
	got := documents(raw)
	if len(got) != 2 || !bytes.Contains(got[0], []byte("a: 1")) || !bytes.Contains(got[1], []byte("b: 2")) {
		t.Errorf("documents() = %q, want the two documents with content", got)
	}
}
