// Package local delivers the project's events on a machine without Knative, the way the
// Broker, its Triggers and the PingSources would in the cluster. It reads the same
// manifests (eventing.Manifests), so routing has one source of truth: a Router accepts
// events on an http.Handler that stands in for the Broker ingress (K_SINK), delivers each
// one over HTTP in CloudEvents binary mode to every subscriber whose Trigger filter
// matches, retries with the Broker's backoff and finally logs a dead letter; and it fires
// the PingSources on their cron schedules in their time zones.
//
// The manifests are decoded into the small structs below rather than Knative's own types,
// to keep Kubernetes out of every function's build; knative/validate checks the same files
// against Knative's types and validation.
package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Manifests are the eventing resources found in a set of YAML files.
type Manifests struct {
	Brokers     []Broker
	Triggers    []Trigger
	PingSources []PingSource
}

// Reference points at another resource, as a Knative duck KReference.
type Reference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
}

// Destination is where events go: a resource reference or a URI, as Knative's duck
// Destination.
type Destination struct {
	Ref *Reference `json:"ref,omitempty"`
	URI string     `json:"uri,omitempty"`
}

// String names the destination for logs.
func (d Destination) String() string {
	if d.Ref != nil {
		return d.Ref.Kind + "/" + d.Ref.Name
	}
	return d.URI
}

// Delivery is a Knative DeliverySpec: how often and how patiently to retry, and where an
// event goes when every attempt failed.
type Delivery struct {
	Retry          *int32       `json:"retry,omitempty"`
	BackoffPolicy  string       `json:"backoffPolicy,omitempty"`
	BackoffDelay   string       `json:"backoffDelay,omitempty"`
	DeadLetterSink *Destination `json:"deadLetterSink,omitempty"`
	Timeout        string       `json:"timeout,omitempty"`
}

// Backoff returns the wait before retry number n (0 for the first retry), as Knative
// computes it: the delay times 2^n for the exponential policy, times n for the linear one.
func (d Delivery) Backoff(n int) (time.Duration, error) {
	if d.BackoffDelay == "" {
		return 0, nil
	}
	delay, err := ParseDuration(d.BackoffDelay)
	if err != nil {
		return 0, fmt.Errorf("backoffDelay: %w", err)
	}
	switch d.BackoffPolicy {
	case "linear":
		return delay * time.Duration(n), nil
	case "exponential", "":
		return delay << n, nil
	default:
		return 0, fmt.Errorf("backoffPolicy %q is neither linear nor exponential", d.BackoffPolicy)
	}
}

// Retries is the number of retries after the first attempt.
func (d Delivery) Retries() int {
	if d.Retry == nil {
		return 0
	}
	return int(*d.Retry)
}

// Broker is an eventing.knative.dev/v1 Broker.
type Broker struct {
	Name      string
	Namespace string
	Delivery  Delivery
}

// Trigger is an eventing.knative.dev/v1 Trigger: the events of Broker whose attributes
// equal every value in Filter go to Subscriber.
type Trigger struct {
	Name       string
	Namespace  string
	Broker     string
	Filter     map[string]string
	Subscriber Destination
	// Delivery, when set, replaces the Broker's for this Trigger.
	Delivery *Delivery
}

// PingSource is a sources.knative.dev/v1 PingSource: on Schedule (5-field cron) in
// Timezone it sends a ping event with Data (or DataBase64) to Sink.
type PingSource struct {
	Name        string
	Namespace   string
	Schedule    string
	Timezone    string
	ContentType string
	Data        string
	DataBase64  string
	Sink        Destination
	// Extensions are the spec.ceOverrides.extensions attributes set on every event.
	Extensions map[string]string
}

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

type triggerSpec struct {
	Broker string `json:"broker"`
	Filter *struct {
		Attributes map[string]string `json:"attributes"`
	} `json:"filter"`
	// Filters are the experimental SQL-like filters, which the local router does not
	// implement: a Trigger using them is refused rather than routed differently.
	Filters    json.RawMessage `json:"filters"`
	Subscriber Destination     `json:"subscriber"`
	Delivery   *Delivery       `json:"delivery"`
}

type pingSourceSpec struct {
	Schedule    string      `json:"schedule"`
	Timezone    string      `json:"timezone"`
	ContentType string      `json:"contentType"`
	Data        string      `json:"data"`
	DataBase64  string      `json:"dataBase64"`
	Sink        Destination `json:"sink"`
	CEOverrides *struct {
		Extensions map[string]string `json:"extensions"`
	} `json:"ceOverrides"`
}

// Load reads every .yaml and .yml file in fsys (recursively; multi-document files too) and
// keeps the Brokers, Triggers and PingSources. Other kinds are ignored: the SinkBinding
// and the dead-letter Service, and the cluster's access rules (the NetworkPolicy, the
// EventPolicies of manifests/oidc/), since locally there is no network policy and no OIDC.
func Load(fsys fs.FS) (*Manifests, error) {
	m := &Manifests{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		for i, doc := range SplitDocuments(raw) {
			if err := m.add(doc); err != nil {
				return fmt.Errorf("%s: document %d: %w", p, i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("local: load manifests: %w", err)
	}
	return m, nil
}

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// SplitDocuments splits a multi-document YAML stream at its "---" lines and drops the
// documents that hold only comments or white space.
func SplitDocuments(raw []byte) [][]byte {
	var docs [][]byte
	for _, doc := range documentSeparator.Split(string(raw), -1) {
		empty := true
		for _, line := range strings.Split(doc, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}

func (m *Manifests) add(doc []byte) error {
	var obj object
	if err := yaml.Unmarshal(doc, &obj); err != nil {
		return err
	}
	group, _, _ := strings.Cut(obj.APIVersion, "/")
	name, ns := obj.Metadata.Name, obj.Metadata.Namespace
	spec := obj.Spec
	if len(spec) == 0 {
		spec = []byte("{}")
	}
	switch {
	case group == "eventing.knative.dev" && obj.Kind == "Broker":
		var s struct {
			Delivery *Delivery `json:"delivery"`
		}
		if err := json.Unmarshal(spec, &s); err != nil {
			return fmt.Errorf("Broker %s: %w", name, err)
		}
		b := Broker{Name: name, Namespace: ns}
		if s.Delivery != nil {
			b.Delivery = *s.Delivery
		}
		if _, err := b.Delivery.Backoff(0); err != nil {
			return fmt.Errorf("Broker %s: delivery: %w", name, err)
		}
		m.Brokers = append(m.Brokers, b)
	case group == "eventing.knative.dev" && obj.Kind == "Trigger":
		var s triggerSpec
		if err := json.Unmarshal(spec, &s); err != nil {
			return fmt.Errorf("Trigger %s: %w", name, err)
		}
		if len(bytes.TrimSpace(s.Filters)) > 0 && string(bytes.TrimSpace(s.Filters)) != "null" {
			return fmt.Errorf("Trigger %s: spec.filters is not supported by the local router; use spec.filter.attributes", name)
		}
		if s.Subscriber.Ref == nil && s.Subscriber.URI == "" {
			return fmt.Errorf("Trigger %s: spec.subscriber needs a ref or a uri", name)
		}
		t := Trigger{Name: name, Namespace: ns, Broker: s.Broker, Subscriber: s.Subscriber, Delivery: s.Delivery}
		if s.Filter != nil {
			t.Filter = s.Filter.Attributes
		}
		if t.Delivery != nil {
			if _, err := t.Delivery.Backoff(0); err != nil {
				return fmt.Errorf("Trigger %s: delivery: %w", name, err)
			}
		}
		m.Triggers = append(m.Triggers, t)
	case group == "sources.knative.dev" && obj.Kind == "PingSource":
		var s pingSourceSpec
		if err := json.Unmarshal(spec, &s); err != nil {
			return fmt.Errorf("PingSource %s: %w", name, err)
		}
		p := PingSource{
			Name: name, Namespace: ns, Schedule: s.Schedule, Timezone: s.Timezone,
			ContentType: s.ContentType, Data: s.Data, DataBase64: s.DataBase64, Sink: s.Sink,
		}
		if s.CEOverrides != nil {
			p.Extensions = s.CEOverrides.Extensions
		}
		m.PingSources = append(m.PingSources, p)
	}
	return nil
}

// Broker returns the Broker named name.
func (m *Manifests) Broker(name string) (Broker, bool) {
	for _, b := range m.Brokers {
		if b.Name == name {
			return b, true
		}
	}
	return Broker{}, false
}

// PingSource returns the PingSource named name.
func (m *Manifests) PingSource(name string) (PingSource, bool) {
	for _, p := range m.PingSources {
		if p.Name == name {
			return p, true
		}
	}
	return PingSource{}, false
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseDuration reads the ISO 8601 durations Knative's delivery settings use, such as
// PT0.5S, PT2M or P1DT1H (days, hours, minutes and seconds; no years, months or weeks).
func ParseDuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as PT0.5S", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%q: %w", s, err)
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		secs, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		d += time.Duration(secs * float64(time.Second))
	}
	return d, nil
}

// errNoRoute is returned for a destination the router cannot reach.
var errNoRoute = errors.New("no route")
