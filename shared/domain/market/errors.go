package market

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ErrorKind classifies a MarketDataError. It is itself an error, so callers test with
// errors.Is(err, market.KindRateLimited) without a type assertion.
type ErrorKind string

// The kinds, as they appear in the logged MarketDataError.
const (
	// KindRateLimited: our own limiter refused the call, or the provider said the
	// quota is spent (HTTP 429, Alpha Vantage's "Information"/"Note", Finnhub's
	// "API limit reached"). RetryAfter says when trying again makes sense.
	KindRateLimited ErrorKind = "rate_limited"
	// KindHTTPStatus: a non-2xx answer that is not a limit or an unknown symbol
	// (5xx from the provider or a proxy, 401/403 for a bad key). Status is set.
	KindHTTPStatus ErrorKind = "http_status"
	// KindMalformed: a 2xx answer that is not the documented shape (bad JSON, an
	// HTML page, a price that is not a positive number, ...).
	KindMalformed ErrorKind = "malformed"
	// KindTimeout: the attempt (or the caller's context) ran out of time.
	KindTimeout ErrorKind = "timeout"
	// KindNotFound: the provider does not know the symbol.
	KindNotFound ErrorKind = "not_found"
	// KindUpstream: the provider answered with an error of its own in a 2xx body, or
	// the connection failed (refused, reset, DNS).
	KindUpstream ErrorKind = "upstream_error"
)

func (k ErrorKind) Error() string { return string(k) }

// MarketDataError is every failure a price provider returns; marshalled to JSON
// it is the event of the "MarketDataError" log line, where failures are read.
//
// JSON: {"provider","symbol","kind","status","message","retryAfterMs","at"}; symbol,
// status and retryAfterMs are omitted when zero; at is RFC 3339 in UTC. Message
// never contains an API key or a request URL (which would carry one).
type MarketDataError struct {
	Provider   string
	Symbol     string
	Kind       ErrorKind
	Status     int
	Message    string
	RetryAfter time.Duration
	At         time.Time
	// Err is the underlying cause (a context error, a net error), for errors.Is and
	// errors.As; it is not serialised.
	Err error
}

func (e *MarketDataError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Symbol != "" {
		b.WriteString(" ")
		b.WriteString(e.Symbol)
	}
	b.WriteString(": ")
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is reports whether target is this error's Kind.
func (e *MarketDataError) Is(target error) bool {
	k, ok := target.(ErrorKind)
	return ok && k == e.Kind
}

// Unwrap returns the cause.
func (e *MarketDataError) Unwrap() error { return e.Err }

// Temporary reports whether the same request may succeed later without any change:
// limits, timeouts, connection failures and 5xx answers.
func (e *MarketDataError) Temporary() bool {
	switch e.Kind {
	case KindRateLimited, KindTimeout, KindUpstream:
		return true
	case KindHTTPStatus:
		return e.Status >= 500
	}
	return false
}

type marketDataErrorJSON struct {
	Provider     string    `json:"provider"`
	Symbol       string    `json:"symbol,omitempty"`
	Kind         ErrorKind `json:"kind"`
	Status       int       `json:"status,omitempty"`
	Message      string    `json:"message"`
	RetryAfterMs int64     `json:"retryAfterMs,omitempty"`
	At           time.Time `json:"at"`
}

// MarshalJSON writes the event body.
func (e *MarketDataError) MarshalJSON() ([]byte, error) {
	return json.Marshal(marketDataErrorJSON{
		Provider: e.Provider, Symbol: e.Symbol, Kind: e.Kind, Status: e.Status, Message: e.Message,
		RetryAfterMs: e.RetryAfter.Milliseconds(), At: e.At.UTC(),
	})
}

// UnmarshalJSON reads the event body.
func (e *MarketDataError) UnmarshalJSON(b []byte) error {
	var v marketDataErrorJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = MarketDataError{
		Provider: v.Provider, Symbol: v.Symbol, Kind: v.Kind, Status: v.Status, Message: v.Message,
		RetryAfter: time.Duration(v.RetryAfterMs) * time.Millisecond, At: v.At.UTC(),
	}
	return nil
}
