package archive

import _ "embed"

// OpenAPI is the function's OpenAPI 3.1 fragment: every route it serves, with schemas
// named Archive..., errors as #/components/schemas/Error and every route under bearerAuth,
// both of which the gateway's document defines.
//
//go:embed openapi.json
var OpenAPI []byte
