package jobs

import _ "embed"

// OpenAPI is the function's OpenAPI 3.1 fragment: its routes with schemas named Jobs...,
// errors as #/components/schemas/Error and security bearerAuth, both of which the
// gateway's document defines.
//
//go:embed openapi.json
var OpenAPI []byte
