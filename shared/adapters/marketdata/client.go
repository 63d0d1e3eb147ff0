package marketdata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// RetryPolicy bounds retries of transient failures (timeouts, connection errors,
// 5xx, 429). Delays are exponential with full jitter: attempt n (from 0) waits a
// uniform random time in [0, min(MaxDelay, BaseDelay·2ⁿ)). A 429 waits its
// Retry-After instead, and is retried only when that fits within MaxDelay; other 4xx
// answers are never retried.
type RetryPolicy struct {
	MaxAttempts int // total attempts, first included; 1 disables retries
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// DefaultRetry suits a Lambda invoked every minute: three attempts within a few
// seconds.
var DefaultRetry = RetryPolicy{MaxAttempts: 3, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}

// Backoff returns the full-jitter delay before retry number attempt (0 = the first
// retry), drawing from rnd (a uniform int64 in [0, n)); nil rnd uses math/rand/v2.
func (p RetryPolicy) Backoff(attempt int, rnd func(n int64) int64) time.Duration {
	ceil := p.MaxDelay
	if p.BaseDelay > 0 && attempt < 62 {
		if d := p.BaseDelay << uint(attempt); d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(ceil)))
}

// ClientOptions configure the REST clients. Only APIKey is required in production;
// BaseURL defaults to the provider's public API and is set to an httptest server in
// tests or to a stub in the local stack.
type ClientOptions struct {
	BaseURL string
	APIKey  string
	// HTTPClient defaults to a client with no overall timeout; Timeout below bounds
	// each attempt instead.
	HTTPClient *http.Client
	// Timeout bounds one attempt, including reading the body. Default 10 s.
	Timeout time.Duration
	// Limiter is asked before every attempt. Nil means no limit (tests, stubs).
	Limiter Limiter
	// Retry defaults to DefaultRetry when MaxAttempts is 0.
	Retry RetryPolicy
	// MaxBodyBytes bounds a response body. Default 32 MiB (a full daily history).
	MaxBodyBytes int64
	// Now and Sleep are the clock; tests replace them. Sleep must return early with
	// ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws jitter (uniform in [0, n)); nil uses math/rand/v2.
	Rand func(n int64) int64
}

func (o ClientOptions) withDefaults(baseURL string) ClientOptions {
	if o.BaseURL == "" {
		o.BaseURL = baseURL
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Retry.MaxAttempts <= 0 {
		o.Retry = DefaultRetry
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = retry.Sleep
	}
	return o
}

// restClient is the transport the three REST clients share: limiter, per-attempt
// timeout, retries, status classification, and errors without secrets.
type restClient struct {
	provider string
	opts     ClientOptions
	// errorText extracts the provider's human message from an error body ("" if none).
	errorText func(body []byte) string
}

func (c *restClient) newError(symbol string, kind ErrorKind, status int, msg string, cause error) *MarketDataError {
	return &MarketDataError{
		Provider: c.provider, Symbol: symbol, Kind: kind, Status: status,
		Message: truncate(redact(msg, c.opts.APIKey)), At: c.opts.Now().UTC(), Err: cause,
	}
}

// get performs GET u (with header h) under the retry policy and returns a 2xx body.
// Every failure is a *MarketDataError.
func (c *restClient) get(ctx context.Context, symbol string, u *url.URL, h http.Header) ([]byte, *MarketDataError) {
	var last *MarketDataError
	for attempt := 0; attempt < c.opts.Retry.MaxAttempts; attempt++ {
		if attempt > 0 {
			wait := c.opts.Retry.Backoff(attempt-1, c.opts.Rand)
			if last.Kind == KindRateLimited && last.RetryAfter > 0 {
				wait = last.RetryAfter
			}
			if dl, ok := ctx.Deadline(); ok && c.opts.Now().Add(wait).After(dl) {
				return nil, last
			}
			if err := c.opts.Sleep(ctx, wait); err != nil {
				return nil, last
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, c.newError(symbol, KindTimeout, 0, "cancelled: "+err.Error(), err)
		}
		if c.opts.Limiter != nil {
			now := c.opts.Now()
			ok, retryAfter, err := c.opts.Limiter.Allow(ctx, c.provider, now)
			if err != nil {
				return nil, c.newError(symbol, KindUpstream, 0, "rate limiter unavailable: "+err.Error(), err)
			}
			if !ok {
				e := c.newError(symbol, KindRateLimited, 0, "local rate limit reached", nil)
				e.RetryAfter = retryAfter
				return nil, e
			}
		}
		body, mdErr := c.attempt(ctx, symbol, u, h)
		if mdErr == nil {
			return body, nil
		}
		last = mdErr
		if !c.retryable(mdErr) {
			return nil, mdErr
		}
	}
	return nil, last
}

func (c *restClient) retryable(e *MarketDataError) bool {
	switch e.Kind {
	case KindTimeout, KindUpstream:
		return !errors.Is(e.Err, context.Canceled)
	case KindHTTPStatus:
		return e.Status >= 500
	case KindRateLimited:
		// An upstream 429 is retried (our own limiter's refusal has Status 0 and is
		// not), after its Retry-After when it names one — unless that is longer than
		// MaxDelay, in which case the caller gets the error and the RetryAfter.
		return e.Status == http.StatusTooManyRequests && e.RetryAfter <= c.opts.Retry.MaxDelay
	}
	return false
}

func (c *restClient) attempt(parent context.Context, symbol string, u *url.URL, h http.Header) ([]byte, *MarketDataError) {
	ctx, cancel := context.WithTimeout(parent, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, c.newError(symbol, KindUpstream, 0, "building request: "+errText(err), err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, c.transportError(parent, ctx, symbol, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, c.transportError(parent, ctx, symbol, err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, c.newError(symbol, KindMalformed, resp.StatusCode, fmt.Sprintf("response body exceeds %d bytes", c.opts.MaxBodyBytes), nil)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	msg := ""
	if c.errorText != nil {
		msg = c.errorText(body)
	}
	if msg == "" {
		msg = snippet(body, c.opts.APIKey)
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e := c.newError(symbol, KindRateLimited, resp.StatusCode, msg, nil)
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.opts.Now())
		return nil, e
	case resp.StatusCode == http.StatusNotFound:
		return nil, c.newError(symbol, KindNotFound, resp.StatusCode, msg, nil)
	default:
		return nil, c.newError(symbol, KindHTTPStatus, resp.StatusCode, msg, nil)
	}
}

// transportError classifies a failed round trip or body read. The caller's context
// ending is reported as a timeout whose cause is the context error; the attempt's own
// deadline and net timeouts are timeouts; anything else is an upstream failure.
func (c *restClient) transportError(parent, attemptCtx context.Context, symbol string, err error) *MarketDataError {
	if pe := parent.Err(); pe != nil {
		return c.newError(symbol, KindTimeout, 0, "cancelled: "+pe.Error(), pe)
	}
	var ne net.Error
	if attemptCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return c.newError(symbol, KindTimeout, 0, fmt.Sprintf("no complete answer within %s", c.opts.Timeout), context.DeadlineExceeded)
	}
	return c.newError(symbol, KindUpstream, 0, "connection failed: "+errText(err), err)
}

// errText is err's message without the request URL that *url.Error prepends (the
// URL may carry an API key).
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 86400 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 && d <= 24*time.Hour {
			return d
		}
	}
	return 0
}
