package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults shared by both APIs.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
	// DefaultAuthorizerCacheTTL is API Gateway's default authorizerResultTtlInSeconds.
	DefaultAuthorizerCacheTTL = 300 * time.Second
	// clfTime is the layout of requestContext.time / requestTime.
	clfTime = "02/Jan/2006:15:04:05 -0700"
)

// newID returns a 16-character ID shaped like API Gateway's request and
// connection IDs ("L0SM9cOFvHcCIhw="): 11 random bytes, standard base64.
//
// IDs with '/' or '+' are drawn again: both are legal in API Gateway's IDs, but
// clients that put an ID into a URL unescaped would break only now and then.
func newID() string {
	for {
		var b [11]byte
		_, _ = rand.Read(b[:])
		id := base64.StdEncoding.EncodeToString(b[:])
		if !strings.ContainsAny(id, "/+") {
			return id
		}
	}
}

// writeMessage answers with API Gateway's own error shape, {"message":"..."}.
func writeMessage(w http.ResponseWriter, status int, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"message":"` + message + `"}`))
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// domainPrefix is the first label of the host, as requestContext.domainPrefix.
func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return host[:i]
	}
	return host
}

// authDecision is an authorizer's answer as the gateway keeps it.
type authDecision struct {
	allow bool
	// context is what integrations see: authorizer.lambda on HTTP APIs, the
	// flattened authorizer object (with principalId) on WebSocket APIs.
	context map[string]any
}

// authCache keeps authorizer decisions (allow and deny alike) per identity
// source value for the TTL, as API Gateway's authorizer cache does. Errors are
// never cached.
type authCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedDecision
}

type cachedDecision struct {
	d       authDecision
	expires time.Time
}

// maxCacheEntries bounds the cache; beyond it, expired entries are swept and,
// if that is not enough, the cache starts over.
const maxCacheEntries = 10000

func newAuthCache(ttl time.Duration) *authCache {
	if ttl <= 0 {
		return nil
	}
	return &authCache{ttl: ttl, m: map[string]cachedDecision{}}
}

func (c *authCache) get(key string, now time.Time) (authDecision, bool) {
	if c == nil {
		return authDecision{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return authDecision{}, false
	}
	return e.d, true
}

func (c *authCache) put(key string, d authDecision, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCacheEntries {
			c.m = map[string]cachedDecision{}
		}
	}
	c.m[key] = cachedDecision{d: d, expires: now.Add(c.ttl)}
}

// identitySource is one parsed identity source expression.
type identitySource struct {
	header bool   // header, else query string
	name   string // the header (canonical form) or parameter name
}

// parseIdentitySources accepts $request.header.X / $request.querystring.X (HTTP
// APIs) and route.request.header.X / route.request.querystring.X (WebSocket APIs).
func parseIdentitySources(exprs []string, prefix string) ([]identitySource, bool) {
	out := make([]identitySource, 0, len(exprs))
	for _, e := range exprs {
		rest, ok := strings.CutPrefix(e, prefix)
		if !ok {
			return nil, false
		}
		switch {
		case strings.HasPrefix(rest, "header.") && len(rest) > len("header."):
			out = append(out, identitySource{header: true, name: http.CanonicalHeaderKey(rest[len("header."):])})
		case strings.HasPrefix(rest, "querystring.") && len(rest) > len("querystring."):
			out = append(out, identitySource{name: rest[len("querystring."):]})
		default:
			return nil, false
		}
	}
	return out, true
}

// identityValues returns the values of the identity sources, or false when one
// is missing or empty: API Gateway then answers 401 without calling the
// authorizer. Repeated headers or parameters are comma-joined, as in events.
func identityValues(srcs []identitySource, r *http.Request, query map[string][]string) ([]string, bool) {
	vals := make([]string, 0, len(srcs))
	for _, s := range srcs {
		var vs []string
		if s.header {
			vs = r.Header.Values(s.name)
		} else {
			vs = query[s.name]
		}
		v := strings.Join(vs, ",")
		if strings.TrimSpace(v) == "" {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}
