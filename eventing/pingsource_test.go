package eventing_test

import (
	"testing"

	"github.com/xmojo/diary/eventing"
)

// TestPingSourceURIAnyNamespace: the daily cleanup's source is Knative's URI for the
// PingSource in the manifests' namespace, and its name reads back from the URI of any
// namespace a deployment renders it into.
func TestPingSourceURIAnyNamespace(t *testing.T) {
	if got, want := eventing.PingSourceURI(eventing.ManifestNamespace, eventing.PingDailyCleanup), eventing.SourceDailyCleanup; got != want {
		t.Errorf("PingSourceURI(%q, %q) = %q, want %q", eventing.ManifestNamespace, eventing.PingDailyCleanup, got, want)
	}
	tests := []struct {
		source, name, namespace string
		ok                      bool
	}{
		{eventing.SourceDailyCleanup, "daily-cleanup", "diary", true},
		{"/apis/v1/namespaces/personal-diary/pingsources/daily-cleanup", "daily-cleanup", "personal-diary", true},
		{eventing.PingSourceURI("personal-diary", "hourly-sync"), "hourly-sync", "personal-diary", true},
		{"/diary/entries", "", "", false},
		{"/apis/v1/namespaces/personal-diary/pingsources/", "", "", false},
		{"/apis/v1/namespaces//pingsources/daily-cleanup", "", "", false},
		{"/apis/v1/namespaces/a/b/pingsources/daily-cleanup", "", "", false},
		{"/apis/v1/namespaces/a/pingsources/daily-cleanup/x", "", "", false},
		{"/apis/v1/namespaces/a/apiserversources/daily-cleanup", "", "", false},
	}
	for _, tt := range tests {
		name, ns, ok := eventing.PingSourceName(tt.source)
		if name != tt.name || ns != tt.namespace || ok != tt.ok {
			t.Errorf("PingSourceName(%q) = %q, %q, %v; want %q, %q, %v", tt.source, name, ns, ok, tt.name, tt.namespace, tt.ok)
		}
	}
}
