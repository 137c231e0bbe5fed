package local_test

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
)

// The NetworkPolicy in manifests/ and the EventPolicies in manifests/oidc/ are the
// cluster's business: the local router reads past them and routes exactly as before.
func TestLoadIgnoresPolicies(t *testing.T) {
	embedded, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	all, err := local.Load(os.DirFS("../manifests"))
	if err != nil {
		t.Fatalf("Load(eventing/manifests with oidc/) = %v", err)
	}
	if len(all.Brokers) != len(embedded.Brokers) || len(all.Triggers) != len(embedded.Triggers) ||
		len(all.PingSources) != len(embedded.PingSources) {
		t.Errorf("Load(eventing/manifests with oidc/) = %d Brokers, %d Triggers, %d PingSources; want %d, %d, %d as embedded",
			len(all.Brokers), len(all.Triggers), len(all.PingSources),
			len(embedded.Brokers), len(embedded.Triggers), len(embedded.PingSources))
	}
}

// eventPolicy is the part of an eventing.knative.dev/v1alpha1 EventPolicy this test reads.
type eventPolicy struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		From []struct {
			Ref *struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"ref"`
			Sub *string `json:"sub"`
		} `json:"from"`
		Filters []map[string]map[string]string `json:"filters"`
	} `json:"spec"`
}

// admits reports whether p lets sender (kind/name) put an event with attrs on the Broker:
// sender is in spec.from, and the event passes one of spec.filters (or there are none).
// Only the exact and prefix dialects are read; the test fails on others.
func (p eventPolicy) admits(t *testing.T, sender string, attrs map[string]string) bool {
	t.Helper()
	from := false
	for _, f := range p.Spec.From {
		if f.Ref != nil && f.Ref.Kind+"/"+f.Ref.Name == sender {
			from = true
		}
	}
	if !from {
		return false
	}
	if len(p.Spec.Filters) == 0 {
		return true
	}
	for _, filter := range p.Spec.Filters {
		pass := true
		for dialect, want := range filter {
			for attr, v := range want {
				switch dialect {
				case "exact":
					pass = pass && attrs[attr] == v
				case "prefix":
					pass = pass && strings.HasPrefix(attrs[attr], v)
				default:
					t.Fatalf("EventPolicy %s: filter dialect %q is not read by this test", p.Metadata.Name, dialect)
				}
			}
		}
		if pass {
			return true
		}
	}
	return false
}

// Every catalogued event must get past the EventPolicies from its own producer, and a
// producer must not pass for the PingSource: otherwise a new PingSource or event type
// would be refused with 403 in a cluster with OIDC on, or a function could send the
// janitor cleanup ticks.
func TestEventPoliciesAdmitTheCatalogueFromItsProducersOnly(t *testing.T) {
	var policies []eventPolicy
	files, err := fs.Glob(os.DirFS("../manifests/oidc"), "*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no EventPolicy files in eventing/manifests/oidc (%v)", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(path.Join("../manifests/oidc", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range local.SplitDocuments(raw) {
			var p eventPolicy
			if err := yaml.Unmarshal(doc, &p); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if p.Kind == "EventPolicy" {
				policies = append(policies, p)
			}
		}
	}
	admitted := func(sender string, attrs map[string]string) bool {
		for _, p := range policies {
			if p.admits(t, sender, attrs) {
				return true
			}
		}
		return false
	}
	const producers = "SinkBinding/diary-producers"
	for _, spec := range eventing.Catalogue {
		attrs := map[string]string{"type": spec.Type, "source": spec.Source}
		sender := producers
		if strings.Contains(spec.Source, "/pingsources/") {
			sender = "PingSource/" + path.Base(spec.Source)
		}
		if !admitted(sender, attrs) {
			t.Errorf("%s from %s, sent by %s: no EventPolicy admits it", spec.Type, spec.Source, sender)
		}
		if sender != producers && admitted(producers, attrs) {
			t.Errorf("%s from %s: the producers (%s) may send it too, want only %s", spec.Type, spec.Source, producers, sender)
		}
	}
}
