package outbox

// Backoff is backoff, for the tests.
var Backoff = backoff
