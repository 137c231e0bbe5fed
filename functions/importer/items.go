package importer

import (
	"time"
)

// item is one entry read from a zip, in the shape both formats come down to.
type item struct {
	// label names the item in an errors item: where it is in the zip and its source id,
	// never its content.
	label    string
	sourceID string
	// uce: the text.
	title   *string
	content string
	// e2e (diary only): the ciphertext as exported.
	ciphertext       []byte
	ciphertextFormat *string
	mood             *string
	tags             []string
	occurredAt       time.Time
	source           string
	media            []mediaRef
	// invalid is what is wrong with the item as read (a bad id or time); it is not
	// created, and becomes an errors item.
	invalid string
}

// mediaRef is one media of an item (or a loose one), as the zip describes it.
type mediaRef struct {
	label       string
	sourceID    string
	file        string
	filename    string
	contentType string
	// size and sha256 are what a diary media manifest declares (size -1: none); md5 is the
	// Day One photo's. The bytes must match them.
	size   int64
	sha256 []byte
	md5    string
	// invalid is what is wrong with the media's description; it becomes an errors item.
	invalid string
}

// source is a format's reader over an opened zip.
type source interface {
	// name is the format's name, the import_items source.
	name() string
	// count reads every entry without keeping any, checking the JSON, and counts them.
	count() (int, error)
	// each calls fn with every entry, in the zip's order.
	each(fn func(item) error) error
	// loose returns the media attached to no entry.
	loose() []mediaRef
}
