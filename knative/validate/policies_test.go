package validate

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"sigs.k8s.io/yaml"
)

// serviceLabel is the label Knative Serving puts on every pod of a Service.
const serviceLabel = "serving.knative.dev/service"

// decodeAll decodes every document of docs into its Go type (documents of kinds without
// one are left out; TestManifestsPassKnativeValidation reports those).
func decodeAll(t *testing.T, docs [][]byte) []any {
	t.Helper()
	var objs []any
	for _, doc := range docs {
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		obj, skip, err := newObject(tm.APIVersion, tm.Kind)
		if err != nil || skip != "" {
			continue
		}
		if err := yaml.Unmarshal(doc, obj); err != nil {
			t.Fatalf("%s %s: %v", tm.Kind, tm.Metadata.Name, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// policyProblems checks that the access rules fit the resources they are about: each
// EventPolicy names Brokers and senders that exist (a renamed PingSource would otherwise
// be refused with 403 once OIDC is on), each Broker a Trigger uses is named by an
// EventPolicy, and each consumer (a Trigger's subscriber Service) has a NetworkPolicy
// selecting its pods whose every ingress rule names its peers.
func policyProblems(objs []any) []string {
	type key struct{ kind, namespace, name string }
	exists := map[key]bool{}
	var (
		policies []*eventingv1alpha1.EventPolicy
		netpols  []*networkingv1.NetworkPolicy
		triggers []*eventingv1.Trigger
	)
	for _, o := range objs {
		switch o := o.(type) {
		case *eventingv1.Broker:
			exists[key{"Broker", o.Namespace, o.Name}] = true
		case *sourcesv1.PingSource:
			exists[key{"PingSource", o.Namespace, o.Name}] = true
		case *sourcesv1.SinkBinding:
			exists[key{"SinkBinding", o.Namespace, o.Name}] = true
		case *eventingv1.Trigger:
			triggers = append(triggers, o)
		case *eventingv1alpha1.EventPolicy:
			policies = append(policies, o)
		case *networkingv1.NetworkPolicy:
			netpols = append(netpols, o)
		}
	}
	var problems []string
	guarded := map[key]bool{}
	for _, p := range policies {
		if len(p.Spec.To) == 0 {
			problems = append(problems, fmt.Sprintf("EventPolicy %s has no spec.to: it would apply to every resource in %s", p.Name, p.Namespace))
		}
		for _, to := range p.Spec.To {
			if to.Ref == nil {
				problems = append(problems, fmt.Sprintf("EventPolicy %s: name the Broker in spec.to[].ref, not a selector", p.Name))
				continue
			}
			k := key{to.Ref.Kind, p.Namespace, to.Ref.Name}
			if !exists[k] {
				problems = append(problems, fmt.Sprintf("EventPolicy %s: spec.to names %s %s, which no manifest defines", p.Name, k.kind, k.name))
			}
			guarded[k] = true
		}
		for _, from := range p.Spec.From {
			if from.Ref == nil {
				continue
			}
			ns := from.Ref.Namespace
			if ns == "" {
				ns = p.Namespace
			}
			if k := (key{from.Ref.Kind, ns, from.Ref.Name}); !exists[k] {
				problems = append(problems, fmt.Sprintf("EventPolicy %s: spec.from names %s %s/%s, which no manifest defines", p.Name, k.kind, k.namespace, k.name))
			}
		}
	}
	for _, tr := range triggers {
		if k := (key{"Broker", tr.Namespace, tr.Spec.Broker}); !guarded[k] {
			problems = append(problems, fmt.Sprintf("Trigger %s: no EventPolicy names its Broker %s", tr.Name, tr.Spec.Broker))
		}
		ref := tr.Spec.Subscriber.Ref
		if ref == nil || ref.Kind != "Service" {
			continue
		}
		covered := slices.ContainsFunc(netpols, func(np *networkingv1.NetworkPolicy) bool {
			return np.Namespace == tr.Namespace && np.Spec.PodSelector.MatchLabels[serviceLabel] == ref.Name &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		})
		if !covered {
			problems = append(problems, fmt.Sprintf("Trigger %s: its consumer %s has no NetworkPolicy selecting %s=%s for Ingress (see eventing/manifests/network-policies.yaml)",
				tr.Name, ref.Name, serviceLabel, ref.Name))
		}
	}
	for _, np := range netpols {
		for i, r := range np.Spec.Ingress {
			if len(r.From) == 0 {
				problems = append(problems, fmt.Sprintf("NetworkPolicy %s: spec.ingress[%d] has no from, so it admits every peer", np.Name, i))
			}
		}
	}
	return problems
}

func TestPoliciesFitTheProjectsResources(t *testing.T) {
	var docs [][]byte
	for _, file := range manifestFiles(t) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, documents(raw)...)
	}
	for _, p := range policyProblems(decodeAll(t, docs)) {
		t.Error(p)
	}
}

func TestPolicyProblemsCanBeFound(t *testing.T) {
	objs := decodeAll(t, documents([]byte(`
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: diary}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: janitor-daily-cleanup, namespace: diary}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: janitor}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: other, namespace: diary}
spec:
  broker: elsewhere
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: janitor}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: ticks, namespace: diary}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
  from:
    - ref: {apiVersion: sources.knative.dev/v1, kind: PingSource, name: daily-cleanup-renamed, namespace: diary}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: everything, namespace: diary}
spec:
  from:
    - sub: system:serviceaccount:diary:x
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: janitor-ingress, namespace: diary}
spec:
  podSelector:
    matchLabels: {serving.knative.dev/service: jantor}
  policyTypes: [Ingress]
  ingress:
    - ports: [{port: 8012}]
`)))
	got := strings.Join(policyProblems(objs), "\n")
	for _, want := range []string{
		"PingSource diary/daily-cleanup-renamed, which no manifest defines",
		"EventPolicy everything has no spec.to",
		"Trigger other: no EventPolicy names its Broker elsewhere",
		"its consumer janitor has no NetworkPolicy",
		"spec.ingress[0] has no from",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("policyProblems() = %q, want a problem containing %q", got, want)
		}
	}
}

// An EventPolicy is admitted only where OIDC is on, which is why check validates it under
// oidcFlags alone, and why the project keeps it in eventing/manifests/oidc/.
func TestEventPolicyNeedsOIDC(t *testing.T) {
	raw, err := os.ReadFile("../../eventing/manifests/oidc/event-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p eventingv1alpha1.EventPolicy
	if err := yaml.Unmarshal(documents(raw)[0], &p); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		flags feature.Flags
		want  string
	}{
		{"OIDC off", feature.Flags{}, "oidc-authentication feature not enabled"},
		{"OIDC on", oidcFlags, ""},
	} {
		ctx := validationContext(tt.flags)
		p.SetDefaults(ctx)
		err := p.Validate(ctx)
		if got := err.Error(); (tt.want == "" && err != nil) || !strings.Contains(got, tt.want) {
			t.Errorf("%s: Validate(%s) = %v, want %q", tt.name, p.Name, err, tt.want)
		}
	}
}
