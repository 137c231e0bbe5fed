package eventing

import (
	"embed"
	"reflect"
)

// Event types. Every type is listed with its payload, producer and consumers in Catalogue.
const (
	// TypeEntryChanged is emitted after an entry is created, updated, deleted or restored.
	TypeEntryChanged = "com.xmojo.diary.entry.changed"
	// TypeAccountDeleted is emitted after an account was deleted (DELETE /api/v1/auth/me):
	// its keys are erased and its sessions revoked; the purge removes the rest.
	TypeAccountDeleted = "com.xmojo.diary.account.deleted"
	// TypePing is the type PingSource gives its ticks.
	TypePing = "dev.knative.sources.ping"
)

// Sources, as CloudEvent source URIs.
const (
	SourceEntries = "/diary/entries"
	// SourceAuth is the source of the auth function's events.
	SourceAuth = "/diary/auth"
	// SourceDailyCleanup is the source of the daily-cleanup PingSource's ticks, as Knative
	// names it: /apis/v1/namespaces/<namespace>/pingsources/<name>.
	SourceDailyCleanup = "/apis/v1/namespaces/diary/pingsources/daily-cleanup"
)

// Jobs named in PingData.Job.
const (
	// JobCleanup asks the janitor to purge what is past retention.
	JobCleanup = "cleanup"
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

// AccountDeleted is the payload of TypeAccountDeleted: the user and the purge job the
// deletion queued, ids only.
type AccountDeleted struct {
	UserID string `json:"user_id"`
	JobID  string `json:"job_id"`
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
		Producer:   "entries",
		Planned:    []string{"indexer"},
		Redelivery: "consumers key their effect on (entry_id, version): an older or equal version than the one already applied is acknowledged and ignored",
	},
	{
		Type:       TypeAccountDeleted,
		Source:     SourceAuth,
		Subject:    "the user id",
		Payload:    reflect.TypeFor[AccountDeleted](),
		Producer:   "auth",
		Consumers:  []string{"purge"},
		Redelivery: "the purge resumes where it stopped (it deletes what is left, in batches) and a delivery for a user already purged, or one not marked deleted, is acknowledged and does nothing",
	},
	{
		Type:       TypePing,
		Source:     SourceDailyCleanup,
		Payload:    reflect.TypeFor[PingData](),
		Producer:   "PingSource daily-cleanup (30 3 * * *, Etc/UTC), data {\"job\":\"cleanup\"}",
		Consumers:  []string{"janitor", "purge"},
		Redelivery: "the purge's sweep finishes the purges still pending, each resumable as above; the janitor records the event id in processed_events with the run's last write; a second delivery of a finished run is acknowledged and does nothing, one of a run that died half-way resumes it with the same cut-off times",
	},
}

// Manifests holds the Knative Eventing manifests (Broker, Triggers, PingSources,
// SinkBinding, the dead-letter Service, the consumers' NetworkPolicy) as YAML files under
// manifests/, embedded so the local runner routes with exactly what the cluster runs. The
// EventPolicies of manifests/oidc/ (clusters with OIDC only) are not embedded.
//
//go:embed manifests/*.yaml
var Manifests embed.FS
