package local_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
)

func TestProjectManifests(t *testing.T) {
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatalf("Load(eventing.Manifests) = %v", err)
	}
	b, ok := m.Broker("default")
	if !ok {
		t.Fatalf("no Broker default in %+v", m.Brokers)
	}
	if b.Namespace != "diary" || b.Delivery.Retries() != 5 || b.Delivery.BackoffPolicy != "exponential" ||
		b.Delivery.DeadLetterSink == nil {
		t.Errorf("Broker default = %+v, want namespace diary, 5 retries, exponential backoff, a dead-letter sink", b)
	}
	if d, err := b.Delivery.Backoff(0); err != nil || d != 500*time.Millisecond {
		t.Errorf("first backoff = %v, %v, want 500ms", d, err)
	}
	ps, ok := m.PingSource("daily-cleanup")
	if !ok {
		t.Fatal("no PingSource daily-cleanup")
	}
	var data eventing.PingData
	if err := json.Unmarshal([]byte(ps.Data), &data); err != nil || data.Job != eventing.JobCleanup {
		t.Errorf("daily-cleanup data = %q, want {\"job\":%q}", ps.Data, eventing.JobCleanup)
	}
	if got := local.PingSourceURI(ps.Namespace, ps.Name); got != eventing.SourceDailyCleanup {
		t.Errorf("daily-cleanup source = %q, want eventing.SourceDailyCleanup %q", got, eventing.SourceDailyCleanup)
	}
}

// TestCatalogueMatchesTriggers keeps the catalogue and the Triggers in step: the consumers
// the catalogue names for a (type, source) are exactly the subscribers of the Triggers
// whose filter lets that event through, and every Trigger serves some catalogued event.
func TestCatalogueMatchesTriggers(t *testing.T) {
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, spec := range eventing.Catalogue {
		var subscribers []string
		for _, tr := range m.Triggers {
			if v, ok := tr.Filter["type"]; ok && v != spec.Type {
				continue
			}
			if v, ok := tr.Filter["source"]; ok && v != spec.Source {
				continue
			}
			subscribers = append(subscribers, tr.Subscriber.Ref.Name)
			used[tr.Name] = true
		}
		slices.Sort(subscribers)
		want := slices.Sorted(slices.Values(spec.Consumers))
		if !slices.Equal(subscribers, want) {
			t.Errorf("%s from %s: Triggers subscribe %v, catalogue says %v", spec.Type, spec.Source, subscribers, want)
		}
		if spec.Payload == nil || spec.Producer == "" || spec.Redelivery == "" {
			t.Errorf("catalogue entry %s is missing its payload, producer or redelivery", spec.Type)
		}
	}
	for _, tr := range m.Triggers {
		if !used[tr.Name] {
			t.Errorf("Trigger %s matches no catalogued event", tr.Name)
		}
	}
	for _, ps := range m.PingSources {
		src := local.PingSourceURI(ps.Namespace, ps.Name)
		if !slices.ContainsFunc(eventing.Catalogue, func(s eventing.EventSpec) bool { return s.Source == src }) {
			t.Errorf("PingSource %s (source %s) is not in the catalogue", ps.Name, src)
		}
	}
}

func TestNextFiringUsesTheTimeZone(t *testing.T) {
	after := time.Date(2026, time.January, 10, 12, 0, 0, 0, time.UTC)
	summer := time.Date(2026, time.July, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		schedule, timezone string
		after, want        time.Time
	}{
		{"30 3 * * *", "Etc/UTC", after, time.Date(2026, time.January, 11, 3, 30, 0, 0, time.UTC)},
		{"30 3 * * *", "", after, time.Date(2026, time.January, 11, 3, 30, 0, 0, time.UTC)},
		{"0 9 * * *", "Europe/Paris", after, time.Date(2026, time.January, 11, 8, 0, 0, 0, time.UTC)},
		{"0 9 * * *", "Europe/Paris", summer, time.Date(2026, time.July, 11, 7, 0, 0, 0, time.UTC)},
		{"@daily", "America/New_York", after, time.Date(2026, time.January, 11, 5, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.schedule+" "+tt.timezone, func(t *testing.T) {
			got, err := local.NextFiring(local.PingSource{Name: "p", Schedule: tt.schedule, Timezone: tt.timezone}, tt.after)
			if err != nil {
				t.Fatalf("NextFiring() = %v", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("NextFiring(%q in %q, %v) = %v, want %v", tt.schedule, tt.timezone, tt.after, got.UTC(), tt.want)
			}
		})
	}
}

func TestPingEvent(t *testing.T) {
	at := time.Date(2026, time.March, 1, 3, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		ps       local.PingSource
		wantData string
	}{
		{"json data", local.PingSource{Name: "daily-cleanup", Namespace: "diary", ContentType: "application/json", Data: `{"job":"cleanup"}`}, `{"job":"cleanup"}`},
		{"base64 data", local.PingSource{Name: "b", Namespace: "diary", ContentType: "text/plain", DataBase64: "aGVsbG8="}, "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := local.PingEvent(tt.ps, at)
			if err != nil {
				t.Fatalf("PingEvent() = %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("PingEvent() is not a valid CloudEvent: %v", err)
			}
			if ev.Type() != local.PingType || ev.Source() != "/apis/v1/namespaces/diary/pingsources/"+tt.ps.Name ||
				!ev.Time().Equal(at) || ev.DataContentType() != tt.ps.ContentType || string(ev.Data()) != tt.wantData {
				t.Errorf("PingEvent() = %s, want type %s, source of %s, time %v, data %q", ev, local.PingType, tt.ps.Name, at, tt.wantData)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT0.5S", 500 * time.Millisecond, true},
		{"PT2M", 2 * time.Minute, true},
		{"PT1H30M", 90 * time.Minute, true},
		{"P1DT1S", 24*time.Hour + time.Second, true},
		{"P1D", 24 * time.Hour, true},
		{"0.5s", 0, false},
		{"PT", 0, false},
		{"P", 0, false},
		{"P1Y", 0, false},
	}
	for _, tt := range tests {
		got, err := local.ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestLoadRefusesExperimentalFilters(t *testing.T) {
	_, err := local.Load(fstestFS("t.yaml", `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: diary}
spec:
  broker: default
  filters:
    - exact: {type: x}
  subscriber: {uri: "http://x"}
`))
	if err == nil || !strings.Contains(err.Error(), "spec.filters") {
		t.Errorf("Load(Trigger with spec.filters) = %v, want a refusal naming spec.filters", err)
	}
}

func fstestFS(name, data string) fstest.MapFS {
	return fstest.MapFS{name: {Data: []byte(data)}}
}
