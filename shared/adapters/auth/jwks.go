package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxJWKSBytes bounds a JWKS response body. Supabase's holds a handful of keys.
const maxJWKSBytes = 1 << 20

// RSA moduli outside this range are refused: below is weak, above only costs CPU.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// jwk is the part of an RFC 7517 JSON Web Key we read.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

// parseJWKS builds the verification keys of a JWK Set. Keys we cannot or must not
// use are skipped, not fatal: symmetric ("oct") keys, keys for encryption, curves
// and algorithms other than P-256/ES256 and RSA/RS256, keys without kid, and the
// second key of a duplicated kid. A document that is not a JWK Set is an error.
func parseJWKS(doc []byte) (map[string]*key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("jwks: not a JSON object with a keys array: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("jwks: no keys array")
	}
	keys := make(map[string]*key, len(set.Keys))
	for _, raw := range set.Keys {
		var j jwk
		if json.Unmarshal(raw, &j) != nil {
			continue
		}
		k, ok := j.key()
		if !ok {
			continue
		}
		if _, dup := keys[k.kid]; dup {
			continue
		}
		keys[k.kid] = k
	}
	return keys, nil
}

// key converts a JWK to a verification key, or reports false if it is not one we
// accept. The algorithm comes from the key type; a JWK alg, if present, must agree.
func (j *jwk) key() (*key, bool) {
	if j.Kid == "" || (j.Use != "" && j.Use != "sig") {
		return nil, false
	}
	if len(j.KeyOps) > 0 && !slices.Contains(j.KeyOps, "verify") {
		return nil, false
	}
	switch j.Kty {
	case "EC":
		if j.Crv != "P-256" || (j.Alg != "" && j.Alg != AlgES256) {
			return nil, false
		}
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, false
		}
		point := make([]byte, 0, 65)
		point = append(point, 4)
		point = append(point, x...)
		point = append(point, y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point) // checks the point is on the curve
		if err != nil {
			return nil, false
		}
		return &key{kid: j.Kid, alg: AlgES256, ec: pub}, true
	case "RSA":
		if j.Alg != "" && j.Alg != AlgRS256 {
			return nil, false
		}
		n, errN := b64.DecodeString(j.N)
		e, errE := b64.DecodeString(j.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return nil, false
		}
		mod := new(big.Int).SetBytes(n)
		if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, false
		}
		var exp uint64
		for _, b := range e {
			exp = exp<<8 | uint64(b)
		}
		if exp < 3 || exp > 1<<31-1 || exp%2 == 0 {
			return nil, false
		}
		return &key{kid: j.Kid, alg: AlgRS256, rsa: &rsa.PublicKey{N: mod, E: int(exp)}}, true
	}
	return nil, false
}

// keySet is one successful fetch.
type keySet struct {
	keys      map[string]*key
	fetchedAt time.Time
}

// jwksCache holds the last good JWKS and refreshes it: when older than ttl, and
// when a token names a kid it lacks. Fetches are single-flight; refetches for
// unknown kids happen at most once per minInterval, and after a failure nothing
// is tried for minInterval (coldRetry while no keys are held at all), so neither
// garbage kids nor a dead endpoint make us hammer it. After a failed refresh the
// old keys stay usable until ttl+staleIfError.
type jwksCache struct {
	url          string
	client       *http.Client
	timeout      time.Duration
	ttl          time.Duration
	minInterval  time.Duration
	coldRetry    time.Duration
	staleIfError time.Duration
	now          func() time.Time

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time // of any fetch
	lastForced  time.Time // of the last refetch for an unknown kid
	lastErr     error     // of the last fetch; nil if it succeeded

	fetches atomic.Int64 // attempts, for tests and metrics
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// lookup returns the key for kid, refreshing the set if it is stale or lacks kid.
func (c *jwksCache) lookup(ctx context.Context, kid string) (*key, error) {
	if set := c.set.Load(); set != nil && c.now().Sub(set.fetchedAt) < c.ttl {
		if k := set.keys[kid]; k != nil {
			return k, nil
		}
	}
	set := c.set.Load()
	// With a fresh set, the kid is simply unknown: that refetch is the one rate-limited.
	forced := set != nil && c.now().Sub(set.fetchedAt) < c.ttl
	refreshErr := c.refresh(ctx, forced)
	set = c.set.Load()
	if set == nil || c.now().Sub(set.fetchedAt) >= c.ttl+c.staleIfError {
		if refreshErr == nil {
			refreshErr = c.lastError()
		}
		if refreshErr == nil {
			refreshErr = errors.New("no keys fetched yet")
		}
		return nil, &detailed{kind: ErrKeysUnavailable, detail: "jwks: " + refreshErr.Error(), cause: refreshErr}
	}
	if k := set.keys[kid]; k != nil {
		return k, nil
	}
	if refreshErr != nil && !errors.Is(refreshErr, errRateLimited) {
		return nil, wrap(ErrUnknownKey, "kid %s (jwks refresh failed: %v)", quote(kid), refreshErr)
	}
	return nil, wrap(ErrUnknownKey, "kid %s", quote(kid))
}

// peek returns the key for kid from a fresh set without fetching.
func (c *jwksCache) peek(kid string) *key {
	if set := c.set.Load(); set != nil && c.now().Sub(set.fetchedAt) < c.ttl {
		return set.keys[kid]
	}
	return nil
}

var errRateLimited = errors.New("refetch rate-limited")

func (c *jwksCache) lastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// refresh fetches the JWKS unless a fetch is in flight (then it waits for that
// one) or rate limiting forbids it (then it returns errRateLimited): after a
// failed attempt nothing is tried for minInterval (coldRetry while no keys are
// held), and a forced refetch (unknown kid, fresh set) happens at most once per
// minInterval. The first fetch and TTL expiries are otherwise free to go.
func (c *jwksCache) refresh(ctx context.Context, forced bool) error {
	c.mu.Lock()
	if call := c.inflight; call != nil {
		c.mu.Unlock()
		return wait(ctx, call)
	}
	now := c.now()
	// A fetch may have finished between the caller's look at the set and now:
	// a fresh set answers an unforced refresh without another request.
	if cur := c.set.Load(); !forced && cur != nil && now.Sub(cur.fetchedAt) < c.ttl {
		c.mu.Unlock()
		return nil
	}
	if c.lastErr != nil {
		backoff := c.minInterval
		if c.set.Load() == nil {
			backoff = min(backoff, c.coldRetry)
		}
		if now.Sub(c.lastAttempt) < backoff {
			c.mu.Unlock()
			return errRateLimited
		}
	}
	if forced {
		if !c.lastForced.IsZero() && now.Sub(c.lastForced) < c.minInterval {
			c.mu.Unlock()
			return errRateLimited
		}
		c.lastForced = now
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight = call
	c.lastAttempt = now
	c.mu.Unlock()

	// The fetch belongs to every waiter, not to the caller that started it: it
	// gets its own deadline and survives the caller's cancellation.
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		keys, err := c.fetch(fctx)
		c.mu.Lock()
		if err == nil {
			c.set.Store(&keySet{keys: keys, fetchedAt: c.now()})
		}
		c.lastErr = err
		c.inflight = nil
		call.err = err
		c.mu.Unlock()
		close(call.done)
	}()
	return wait(ctx, call)
}

func wait(ctx context.Context, call *fetchCall) error {
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]*key, error) {
	c.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("GET %s: HTTP %d", c.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", c.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", c.url, maxJWKSBytes)
	}
	return parseJWKS(body)
}
