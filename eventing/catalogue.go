// Package eventing owns the project's events: the catalogue of CloudEvent types with their
// payloads, and the Broker, Trigger and PingSource manifests. Producers write their events
// to the outbox (eventing/outbox) in the transaction of the change, and its relay sends
// them to the Broker (K_SINK).
package eventing

import (
	"embed"
	"reflect"
	"strings"
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
	// TypeSearchReindexRequested is emitted when a uce user asks for their search index to
	// be rebuilt (POST /api/v1/search/index).
	TypeSearchReindexRequested = "com.xmojo.diary.search.reindex.requested"
	// TypeIntegrationPullRequested is emitted when a user asks for a pull of an
	// integration's posts (POST /integrations/facebook/pull, and right after a connect).
	TypeIntegrationPullRequested = "com.xmojo.diary.integration.pull.requested"
	// TypeImportRequested is emitted when a user starts an import whose zip is uploaded.
	TypeImportRequested = "com.xmojo.diary.import.requested"
)

// ManifestNamespace is the namespace the manifests under manifests/ are written in, and
// the one the local runner uses. A deployment renders them into its own namespace
// (scripts/deploy, knative/overlays): the metadata and every PingSource source a Trigger
// or EventPolicy filters on, so nothing here fixes where the project runs.
const ManifestNamespace = "diary"

// PingDailyCleanup is the name of the PingSource that ticks the daily cleanup.
const PingDailyCleanup = "daily-cleanup"

// PingFacebookSync is the name of the PingSource that ticks the hourly Facebook sync.
const PingFacebookSync = "facebook-sync"

// PingOutboxSweep is the name of the PingSource that ticks the janitor's outbox sweep.
const PingOutboxSweep = "outbox-sweep"

// Sources, as CloudEvent source URIs.
const (
	SourceEntries = "/diary/entries"
	// SourceSearch is the search function.
	SourceSearch = "/diary/search"
	// SourceArchive is the archive function (exports and imports).
	SourceArchive = "/diary/archive"
	// SourceIntegrations is the source of the integrations function's events.
	SourceIntegrations = "/diary/integrations"
	// SourceDailyCleanup is the source of the daily-cleanup PingSource's ticks in
	// ManifestNamespace, as Knative names it: /apis/v1/namespaces/<namespace>/pingsources/
	// <name> (PingSourceURI). In another namespace the ticks carry that namespace's URI;
	// PingSourceName reads the name whatever the namespace.
	SourceDailyCleanup = pingSourcePrefix + ManifestNamespace + pingSourceInfix + PingDailyCleanup
	// SourceFacebookSync is the source of the facebook-sync PingSource's hourly ticks in
	// ManifestNamespace (PingSourceURI; in another namespace, that namespace's URI).
	SourceFacebookSync = pingSourcePrefix + ManifestNamespace + pingSourceInfix + PingFacebookSync
	// SourceOutboxSweep is the source of the outbox-sweep PingSource's ticks in
	// ManifestNamespace (PingSourceURI; in another namespace, that namespace's URI).
	SourceOutboxSweep = pingSourcePrefix + ManifestNamespace + pingSourceInfix + PingOutboxSweep
	// SourceAuth is the source of the auth function's events.
	SourceAuth = "/diary/auth"
)

const (
	pingSourcePrefix = "/apis/v1/namespaces/"
	pingSourceInfix  = "/pingsources/"
)

// PingSourceURI is the CloudEvent source Knative gives the ticks of the PingSource name in
// namespace.
func PingSourceURI(namespace, name string) string {
	return pingSourcePrefix + namespace + pingSourceInfix + name
}

// PingSourceName returns the PingSource name and namespace a tick's source URI names, and
// false when source is not a PingSource's. It is how a check on a tick's source stays
// independent of the namespace the project is deployed in.
func PingSourceName(source string) (name, namespace string, ok bool) {
	rest, found := strings.CutPrefix(source, pingSourcePrefix)
	if !found {
		return "", "", false
	}
	namespace, name, found = strings.Cut(rest, pingSourceInfix)
	if !found || namespace == "" || name == "" || strings.Contains(namespace, "/") || strings.Contains(name, "/") {
		return "", "", false
	}
	return name, namespace, true
}

// Jobs named in PingData.Job.
const (
	// JobCleanup asks the janitor to purge what is past retention.
	JobCleanup = "cleanup"
	// JobFacebookSync asks the sync consumer (fbsync) to sync every active Facebook
	// integration that is due.
	JobFacebookSync = "facebook-sync"
	// JobOutboxSweep asks the janitor to relay every outbox row that is due, whichever
	// function wrote it (one that scaled to zero with rows left, a Broker that was down).
	JobOutboxSweep = "outbox-sweep"
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

// SearchReindexRequested is the payload of TypeSearchReindexRequested: ids only. The
// indexer takes the master key from the live session named here (sealed under
// SESSION_KEY), never from the event, and fails the job when that session has ended.
type SearchReindexRequested struct {
	UserID    string `json:"user_id"`
	JobID     string `json:"job_id"`
	SessionID string `json:"session_id"`
}

// IntegrationPullRequested is the payload of TypeIntegrationPullRequested: ids only.
type IntegrationPullRequested struct {
	UserID        string `json:"user_id"`
	IntegrationID string `json:"integration_id"`
	// JobID is the pull's job, which the consumer finishes.
	JobID string `json:"job_id"`
}

// ImportRequested is the payload of TypeImportRequested: ids only. The importer reads
// the import (format, staging object) from its row.
type ImportRequested struct {
	UserID   string `json:"user_id"`
	ImportID string `json:"import_id"`
	JobID    string `json:"job_id"`
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
		Producer:   "entries (its writes, and the redemption of pending intake boxes as updated); the producers that deliver through shared/intake (created): fbsync, the importer; each written to the outbox in the change's transaction and relayed after the commit",
		Redelivery: "consumers key their effect on (entry_id, version): an older or equal version than the one already applied is acknowledged and ignored",
	},
	{
		Type:       TypeSearchReindexRequested,
		Source:     SourceSearch,
		Subject:    "the job id",
		Payload:    reflect.TypeFor[SearchReindexRequested](),
		Producer:   "search (POST /api/v1/search/index), written to the outbox in the transaction that queues the job",
		Consumers:  []string{"indexer"},
		Redelivery: "the indexer records the event id in processed_events when the job finishes; a second delivery of a finished job is acknowledged and does nothing, one of a job that stopped half-way resumes after the last entry its progress recorded; every write is an upsert keyed on (entry_id, entry_version), so work done twice changes nothing",
	},
	{
		Type:       TypeAccountDeleted,
		Source:     SourceAuth,
		Subject:    "the user id",
		Payload:    reflect.TypeFor[AccountDeleted](),
		Producer:   "auth (DELETE /api/v1/auth/me), written to the outbox in the transaction that marks the account deleted and queues the purge job",
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
	{
		Type:       TypeIntegrationPullRequested,
		Source:     SourceIntegrations,
		Subject:    "the integration id",
		Payload:    reflect.TypeFor[IntegrationPullRequested](),
		Producer:   "integrations (a pull or a connect), written to the outbox in the transaction that queues the pull's job",
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
	{
		Type:       TypePing,
		Source:     SourceOutboxSweep,
		Payload:    reflect.TypeFor[PingData](),
		Producer:   "PingSource outbox-sweep (*/5 * * * *, Etc/UTC), data {\"job\":\"outbox-sweep\"}",
		Consumers:  []string{"janitor"},
		Redelivery: "a tick relays the outbox rows that are due; a second one finds fewer or none (rows are marked delivered), and a row sent twice carries the same id, which its consumers dedupe",
	},
	{
		Type:       TypeImportRequested,
		Source:     SourceArchive,
		Subject:    "the import id",
		Payload:    reflect.TypeFor[ImportRequested](),
		Producer:   "archive (POST /api/v1/imports/{id}/start), written to the outbox in the transaction that queues the job (again on a start while queued)",
		Consumers:  []string{"importer"},
		Redelivery: "the importer records every entry and media it creates by its source id (import_items) in the batch's own transaction: a redelivery of an import that died half-way continues after what is recorded, one of a finished import (its job finished, the event id in processed_events) is acknowledged and does nothing",
	},
}

// Manifests holds the Knative Eventing manifests (Broker, Triggers, PingSources,
// SinkBinding, the dead-letter Service, the consumers' NetworkPolicy) as YAML files under
// manifests/, embedded so the local runner routes with exactly what the cluster runs. The
// EventPolicies of manifests/oidc/ (clusters with OIDC only) are not embedded.
//
//go:embed manifests/*.yaml
var Manifests embed.FS
