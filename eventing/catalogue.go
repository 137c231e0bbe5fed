package eventing

// Event types. Every type is listed with its payload, producer and consumers in Catalogue.
const (
	// TypeEntryChanged is emitted after an entry is created, updated, deleted or restored.
	TypeEntryChanged = "com.xmojo.diary.entry.changed"
	// TypePing is the type PingSource gives its ticks.
	TypePing = "dev.knative.sources.ping"
)

// Sources, as CloudEvent source URIs.
const (
	SourceEntries = "/diary/entries"
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

// PingData is the JSON data the project's PingSources send.
type PingData struct {
	Job string `json:"job"`
}
