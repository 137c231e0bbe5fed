package eventing

import "github.com/google/uuid"

// ValidID reports whether s is an id as every payload carries it: a UUID in its canonical
// lower-case form. Consumers refuse (acknowledge without work) data whose ids are not,
// before any query: uuid.Parse alone also takes spellings PostgreSQL refuses (urn:uuid:...),
// whose query error the Broker would retry for ever.
func ValidID(s string) bool {
	id, err := uuid.Parse(s)
	return err == nil && id.String() == s
}
