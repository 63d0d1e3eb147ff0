package httpapi

import _ "embed"

// OpenAPI is the API's OpenAPI 3.1 document; openapi_test.go holds it and the
// routes to each other.
//
//go:embed openapi.json
var OpenAPI []byte
