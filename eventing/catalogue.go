package eventing

import (
	"embed"
	"reflect"
)

// Event types. Every type is listed with its payload, producer and consumers in Catalogue.
const (
	// TypeEntryChanged is emitted after an entry is created, updated, deleted or restored.
	TypeEntryChanged = "com.xmojo.diary.entry.changed"
	// TypePing is the type PingSource gives its ticks.
	TypePing = "dev.knative.sources.ping"
	// TypeIntegrationPullRequested is emitted when a user asks for a pull of an
	// integration's posts (POST /integrations/facebook/pull, and right after a connect).
	TypeIntegrationPullRequested = "com.xmojo.diary.integration.pull.requested"
)

// Sources, as CloudEvent source URIs.
const (
	SourceEntries = "/diary/entries"
	// SourceDailyCleanup is the source of the daily-cleanup PingSource's ticks, as Knative
	// names it: /apis/v1/namespaces/<namespace>/pingsources/<name>.
	SourceDailyCleanup = "/apis/v1/namespaces/diary/pingsources/daily-cleanup"
	// SourceIntegrations is the source of the integrations function's events.
	SourceIntegrations = "/diary/integrations"
	// SourceFacebookSync is the source of the facebook-sync PingSource's hourly ticks.
	SourceFacebookSync = "/apis/v1/namespaces/diary/pingsources/facebook-sync"
)

// Jobs named in PingData.Job.
const (
	// JobCleanup asks the janitor to purge what is past retention.
	JobCleanup = "cleanup"
	// JobFacebookSync asks the sync consumer (fbsync) to sync every active Facebook
	// integration that is due.
	JobFacebookSync = "facebook-sync"
)

// EntryChanged is the payload of TypeEntryChanged: ids and the kind of change, never
// content.
type EntryChanged struct {
	UserID  string `json:"user_id"`
	EntryID string `json:"entry_id"`
	// Change is "created", "updated", "deleted" or "restored".
	Change  string `json:"change"`
	Version int    `json:"version"`
}

// IntegrationPullRequested is the payload of TypeIntegrationPullRequested: ids only.
type IntegrationPullRequested struct {
	UserID        string `json:"user_id"`
	IntegrationID string `json:"integration_id"`
	// JobID is the pull's job, which the consumer finishes.
	JobID string `json:"job_id"`
}

// PingData is the JSON data the project's PingSources send.
type PingData struct {
	Job string `json:"job"`
}

// EventSpec is one row of the catalogue: an event the project sends, who sends it, who
// receives it and what a second delivery of the same event id does.
type EventSpec struct {
	// Type is the CloudEvent type attribute.
	Type string
	// Source is the CloudEvent source attribute.
	Source string
	// Subject says what the CloudEvent subject attribute holds, or is empty.
	Subject string
	// Payload is the Go type of the JSON data.
	Payload reflect.Type
	// Producer is the function (or Knative source) that sends the event.
	Producer string
	// Consumers are the Knative Services subscribed by a Trigger in manifests/triggers.yaml.
	Consumers []string
	// Planned names consumers that are designed but not built yet (no Trigger).
	Planned []string
	// Redelivery says what a consumer does when the same event id arrives again.
	Redelivery string
}

// Catalogue lists every event the project sends. A test checks it against the Triggers
// and PingSources in Manifests, and docs/events.md presents it.
var Catalogue = []EventSpec{
	{
		Type:       TypeEntryChanged,
		Source:     SourceEntries,
		Subject:    "the entry id",
		Payload:    reflect.TypeFor[EntryChanged](),
		Producer:   "entries (its writes, and the redemption of pending intake boxes as updated); the producers that deliver through shared/intake (created, after their commit): fbsync, the importer",
		Planned:    []string{"indexer"},
		Redelivery: "consumers key their effect on (entry_id, version): an older or equal version than the one already applied is acknowledged and ignored",
	},
	{
		Type:       TypePing,
		Source:     SourceDailyCleanup,
		Payload:    reflect.TypeFor[PingData](),
		Producer:   "PingSource daily-cleanup (30 3 * * *, Etc/UTC), data {\"job\":\"cleanup\"}",
		Consumers:  []string{"janitor"},
		Redelivery: "the janitor records the event id in processed_events with the run's last write; a second delivery of a finished run is acknowledged and does nothing, one of a run that died half-way resumes it with the same cut-off times",
	},
	{
		Type:       TypeIntegrationPullRequested,
		Source:     SourceIntegrations,
		Subject:    "the integration id",
		Payload:    reflect.TypeFor[IntegrationPullRequested](),
		Producer:   "integrations, after a pull or a connect has committed its job",
		Consumers:  []string{"fbsync"},
		Redelivery: "fbsync records the event id in processed_events once the sync has finished; every post is imported in one transaction with its (account, post id) row, so a redelivery or an overlapping page imports nothing twice",
	},
	{
		Type:       TypePing,
		Source:     SourceFacebookSync,
		Payload:    reflect.TypeFor[PingData](),
		Producer:   "PingSource facebook-sync (7 * * * *, Etc/UTC), data {\"job\":\"facebook-sync\"}",
		Consumers:  []string{"fbsync"},
		Redelivery: "a tick is a sweep over the active integrations that are due; syncing one again imports nothing twice (the same dedupe), so a second delivery only costs Graph calls",
	},
}

// Manifests holds the Knative Eventing manifests (Broker, Triggers, PingSources,
// SinkBinding, the dead-letter Service, the consumers' NetworkPolicy) as YAML files under
// manifests/, embedded so the local runner routes with exactly what the cluster runs. The
// EventPolicies of manifests/oidc/ (clusters with OIDC only) are not embedded.
//
//go:embed manifests/*.yaml
var Manifests embed.FS
