package topology

import "time"

// The HTTP API's CORS, once for both stacks (infra's CorsPreflight and the local
// gateway): the request headers the web app sends beyond the safelisted ones
// (its Bearer token, JSON bodies, a command's Idempotency-Key, a conditional
// If-Match), the response headers its script reads (a version's ETag and the
// read-model headers of docs/architecture.md §10 "Read-your-writes", a created
// resource's Location, a 503's Retry-After), and how long a browser may keep a
// preflight's answer. httpapi's tests hold the header names to the ones the API
// reads and writes.
var (
	CORSAllowHeaders  = []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match"}
	CORSExposeHeaders = []string{"ETag", "Location", "Retry-After", "X-Read-Model-Version", "X-Read-Model-Stale"}
)

// CORSMaxAge is how long a browser caches a preflight's answer.
const CORSMaxAge = 10 * time.Minute
