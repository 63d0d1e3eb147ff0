package pricing

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Contract constants of the market-data-updates stream.
const (
	EventTypeMarketDataUpdated = "MarketDataUpdated"
	// SchemaVersion is the version of PortfolioValueCalculated, and the first of
	// MarketDataUpdated.
	SchemaVersion = 1
	// MarketDataSchemaVersion is the newest MarketDataUpdated this build reads
	// and writes: 2 adds currency. A tick is stamped with the lowest version that
	// carries it, so a reader that predates currencies refuses only the ticks
	// that need them (the reader is strict: an unknown field is an error).
	// MaxEventBytes bounds an encoded event. Kinesis allows 1 MiB per record; a
	// tick is a few hundred bytes, so anything larger is not one of ours.
	MaxEventBytes           = 4 << 10
	MarketDataSchemaVersion = 2
)

// schemaVersionOf is the lowest MarketDataUpdated version that carries e.
func schemaVersionOf(e MarketDataUpdated) int {
	if e.Currency != "" {
		return 2
	}
	return 1
}

// MarketDataUpdated is one normalised quote on the Kinesis stream
// market-data-updates. Its partition key is Symbol.
//
// JSON:
//
//	{"eventId":"…","eventType":"MarketDataUpdated","schemaVersion":1,"symbol":"AAPL",
//	 "price":"190.12","volume":"300","timestamp":"2026-01-02T15:04:05.123Z",
//	 "exchange":"XNAS","source":"finnhub","previousClose":"189.50",
//	 "traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
//
// price, volume and previousClose are decimal strings (never JSON numbers, so no
// reader goes through float64); previousClose and exchange are omitted when
// unknown; timestamp is RFC 3339 in UTC; traceparent (optional) carries the
// publisher's trace to the consumer.
type MarketDataUpdated struct {
	EventID       string
	Symbol        string
	Price         decimal.Decimal
	Volume        decimal.Decimal
	Timestamp     time.Time
	Exchange      string
	Source        string
	PreviousClose decimal.Decimal // zero: unknown
	Currency      string          // of Price and PreviousClose ("GBp" for pence); FromQuote fills the listing's when the source is silent
	// Traceparent is the W3C traceparent of the span that published the
	// record ("" when untraced): the prices consumer continues the trace from
	// it. Not part of the quote: the event ID ignores it, and a bad one is
	// ignored by the consumer rather than making the record poison.
	Traceparent string
}

// eventNamespace derives deterministic event IDs.
var eventNamespace = uuid.MustNamespace("6f1d5c2e-8a43-4b8e-9d0b-3f2a7c1e5b90")

// FromQuote builds the event for q, in the listing's currency
// (market.ListingCurrency) when the provider did not report one and the listing
// is not a US one: Finnhub's quote and trades carry none, and a London quote
// taken for dollars would be valued a hundred times too high. The event ID is a name-based UUID (v5) of the
// source, symbol, timestamp and price: the same quote fetched twice (two
// containers, a retried invocation) carries the same ID.
func FromQuote(q market.Quote) MarketDataUpdated {
	ts := q.Timestamp.UTC()
	name := q.Source + "|" + q.Symbol + "|" + ts.Format(time.RFC3339Nano) + "|" + q.Price.String()
	return MarketDataUpdated{
		EventID: eventNamespace.Name(name), Symbol: q.Symbol, Price: q.Price, Volume: q.Volume,
		Timestamp: ts, Exchange: q.Exchange, Source: q.Source, PreviousClose: q.PreviousClose, Currency: cmp.Or(q.Currency, foreignListing(q.Symbol)),
	}
}

// foreignListing is the currency of a listing that is not in dollars, "" for a
// dollar one (the consumer's default: no field on the wire).
func foreignListing(symbol string) string {
	if c := market.ListingCurrency(symbol); c != "USD" {
		return c
	}
	return ""
}

// Quote returns the event as a market.Quote.
func (e MarketDataUpdated) Quote() market.Quote {
	return market.Quote{Symbol: e.Symbol, Price: e.Price, Volume: e.Volume, Timestamp: e.Timestamp,
		Exchange: e.Exchange, Source: e.Source, PreviousClose: e.PreviousClose, Currency: e.Currency}
}

// PartitionKey is the Kinesis partition key: the symbol.
func (e MarketDataUpdated) PartitionKey() string { return e.Symbol }

type wireEvent struct {
	EventID       string  `json:"eventId"`
	EventType     string  `json:"eventType"`
	SchemaVersion int     `json:"schemaVersion"`
	Symbol        string  `json:"symbol"`
	Price         string  `json:"price"`
	Volume        string  `json:"volume"`
	Timestamp     string  `json:"timestamp"`
	Exchange      string  `json:"exchange,omitempty"`
	Source        string  `json:"source"`
	Currency      string  `json:"currency,omitempty"`
	PreviousClose *string `json:"previousClose,omitempty"`
	Traceparent   string  `json:"traceparent,omitempty"`
}

// wireIn is wireEvent as read: pointers tell a missing (or null) field from an
// empty one.
type wireIn struct {
	EventID       *string `json:"eventId"`
	EventType     *string `json:"eventType"`
	SchemaVersion *int    `json:"schemaVersion"`
	Symbol        *string `json:"symbol"`
	Price         *string `json:"price"`
	Volume        *string `json:"volume"`
	Timestamp     *string `json:"timestamp"`
	Exchange      *string `json:"exchange"`
	Source        *string `json:"source"`
	Currency      *string `json:"currency"`
	PreviousClose *string `json:"previousClose"`
	Traceparent   *string `json:"traceparent"`
}

// ErrInvalidEvent is matched by every DecodeError and by Encode's validation error.
var ErrInvalidEvent = errors.New("invalid MarketDataUpdated event")

// ErrRefused is matched by a store's error when the store refuses a valid event's
// data itself (DynamoDB's ValidationException): no retry mends it, so the prices
// consumer quarantines the ticks instead of retrying them.
var ErrRefused = errors.New("refused by the store")

// DecodeError says why a record is not a valid MarketDataUpdated event. Field is
// the JSON field at fault ("" for the document as a whole).
type DecodeError struct {
	Field  string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "MarketDataUpdated: " + e.Reason
	}
	return "MarketDataUpdated: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidEvent) true.
func (e *DecodeError) Is(target error) bool { return target == ErrInvalidEvent }

// Validate checks the event as Decode would: an event ID, the quote invariants of
// market.Quote.Validate, a UTC timestamp.
func (e MarketDataUpdated) Validate() error {
	if e.EventID == "" {
		return &DecodeError{Field: "eventId", Reason: "missing"}
	}
	if err := e.Quote().Validate(); err != nil {
		return &DecodeError{Reason: err.Error()}
	}
	return nil
}

// Encode validates e and returns its JSON.
func Encode(e MarketDataUpdated) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	w := wireEvent{
		EventID: e.EventID, EventType: EventTypeMarketDataUpdated, SchemaVersion: schemaVersionOf(e), Symbol: e.Symbol,
		Price: e.Price.String(), Volume: e.Volume.String(), Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano),
		Exchange: e.Exchange, Source: e.Source, Currency: e.Currency, Traceparent: e.Traceparent,
	}
	if !e.PreviousClose.IsZero() {
		pc := e.PreviousClose.String()
		w.PreviousClose = &pc
	}
	return json.Marshal(w)
}

// Decode parses one record strictly: one JSON object, no unknown fields, every
// required field present, eventType MarketDataUpdated, schemaVersion 1 or 2 (currency only in 2), decimal
// strings for the numbers, an RFC 3339 UTC timestamp. Every failure is a
// *DecodeError (errors.Is(err, ErrInvalidEvent)).
func Decode(b []byte) (MarketDataUpdated, error) { return decode(b, "") }

// Decoder decodes the records of one batch as Decode does, except that a
// record whose traceparent is the previous record's (the ticks one publisher
// sent, thousands in a batch) shares that string instead of a copy each. Its
// zero value is ready; it is not safe for concurrent use.
type Decoder struct{ traceparent string }

// Decode is Decode, sharing the traceparent string with the previous record.
func (d *Decoder) Decode(b []byte) (MarketDataUpdated, error) {
	e, err := decode(b, d.traceparent)
	if e.Traceparent != "" {
		d.traceparent = e.Traceparent
	}
	return e, err
}

func decode(b []byte, traceparent string) (MarketDataUpdated, error) {
	if len(b) > MaxEventBytes {
		return MarketDataUpdated{}, &DecodeError{Reason: fmt.Sprintf("%d bytes exceeds %d", len(b), MaxEventBytes)}
	}
	w, ok := canonicalWire(b, traceparent)
	if !ok {
		var err error
		if w, err = strictWire(b); err != nil {
			return MarketDataUpdated{}, err
		}
	}
	return fromWire(w)
}

// strictWire reads any JSON layout of the event with encoding/json: one object,
// no unknown fields, every required field present.
func strictWire(b []byte) (wireEvent, error) {
	var in wireIn
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return wireEvent{}, &DecodeError{Reason: "not a JSON event: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return wireEvent{}, &DecodeError{Reason: "trailing data after the event"}
	}
	required := []struct {
		name    string
		present bool
	}{
		{"eventId", in.EventID != nil}, {"eventType", in.EventType != nil}, {"schemaVersion", in.SchemaVersion != nil},
		{"symbol", in.Symbol != nil}, {"price", in.Price != nil}, {"volume", in.Volume != nil},
		{"timestamp", in.Timestamp != nil}, {"source", in.Source != nil},
	}
	for _, f := range required {
		if !f.present {
			return wireEvent{}, &DecodeError{Field: f.name, Reason: "missing"}
		}
	}
	w := wireEvent{EventID: *in.EventID, EventType: *in.EventType, SchemaVersion: *in.SchemaVersion, Symbol: *in.Symbol,
		Price: *in.Price, Volume: *in.Volume, Timestamp: *in.Timestamp, Source: *in.Source, PreviousClose: in.PreviousClose}
	if in.Exchange != nil {
		w.Exchange = *in.Exchange
	}
	if in.Currency != nil {
		w.Currency = *in.Currency
	}
	if in.Traceparent != nil {
		w.Traceparent = *in.Traceparent
	}
	return w, nil
}

// canonicalWire reads the exact layout Encode writes (json.Marshal of wireEvent:
// fields in order, no white space, strings without escapes) about ten times
// faster than encoding/json; anything else, valid or not, reports false and is
// left to strictWire, so the two accept and reject the same documents. A
// traceparent equal to traceparent is returned as that string, not a copy.
func canonicalWire(b []byte, traceparent string) (wireEvent, bool) {
	var w wireEvent
	p := b
	known := "" // what str returns instead of a copy of equal bytes
	lit := func(s string) bool {
		if len(p) < len(s) || string(p[:len(s)]) != s {
			return false
		}
		p = p[len(s):]
		return true
	}
	str := func(dst *string) bool {
		if !lit(`"`) {
			return false
		}
		i := bytes.IndexByte(p, '"')
		if i < 0 {
			return false
		}
		v := p[:i]
		for _, c := range v {
			if c < 0x20 || c == '\\' {
				return false
			}
		}
		if !utf8.Valid(v) {
			return false
		}
		if *dst = known; string(v) != known {
			*dst = string(v)
		}
		p = p[i+1:]
		return true
	}
	if !lit(`{"eventId":`) || !str(&w.EventID) || !lit(`,"eventType":`) || !str(&w.EventType) || !lit(`,"schemaVersion":`) {
		return w, false
	}
	n := 0
	for n < len(p) && p[n] >= '0' && p[n] <= '9' {
		n++
	}
	if n == 0 || n > 6 || (n > 1 && p[0] == '0') {
		return w, false
	}
	w.SchemaVersion, _ = strconv.Atoi(string(p[:n]))
	p = p[n:]
	if !lit(`,"symbol":`) || !str(&w.Symbol) || !lit(`,"price":`) || !str(&w.Price) || !lit(`,"volume":`) || !str(&w.Volume) ||
		!lit(`,"timestamp":`) || !str(&w.Timestamp) {
		return w, false
	}
	if lit(`,"exchange":`) && !str(&w.Exchange) {
		return w, false
	}
	if !lit(`,"source":`) || !str(&w.Source) {
		return w, false
	}
	if lit(`,"currency":`) && !str(&w.Currency) {
		return w, false
	}
	if lit(`,"previousClose":`) {
		var pc string
		if !str(&pc) {
			return w, false
		}
		w.PreviousClose = &pc
	}
	if known = traceparent; lit(`,"traceparent":`) && !str(&w.Traceparent) {
		return w, false
	}
	return w, lit(`}`) && len(p) == 0
}

// fromWire checks a read event's values and converts them.
func fromWire(w wireEvent) (MarketDataUpdated, error) {
	if w.EventType != EventTypeMarketDataUpdated {
		return MarketDataUpdated{}, &DecodeError{Field: "eventType", Reason: fmt.Sprintf("%q is not %s", w.EventType, EventTypeMarketDataUpdated)}
	}
	if w.SchemaVersion < SchemaVersion || w.SchemaVersion > MarketDataSchemaVersion {
		return MarketDataUpdated{}, &DecodeError{Field: "schemaVersion", Reason: fmt.Sprintf("%d is not supported (want %d to %d)", w.SchemaVersion, SchemaVersion, MarketDataSchemaVersion)}
	}
	if w.Currency != "" && w.SchemaVersion < 2 {
		return MarketDataUpdated{}, &DecodeError{Field: "currency", Reason: fmt.Sprintf("needs schemaVersion 2, not %d", w.SchemaVersion)}
	}
	e := MarketDataUpdated{EventID: w.EventID, Symbol: w.Symbol, Exchange: w.Exchange, Source: w.Source, Currency: w.Currency, Traceparent: w.Traceparent}
	var err error
	if e.Price, err = decimalField("price", w.Price); err != nil {
		return MarketDataUpdated{}, err
	}
	if e.Volume, err = decimalField("volume", w.Volume); err != nil {
		return MarketDataUpdated{}, err
	}
	if w.PreviousClose != nil {
		if e.PreviousClose, err = decimalField("previousClose", *w.PreviousClose); err != nil {
			return MarketDataUpdated{}, err
		}
	}
	if !strings.HasSuffix(w.Timestamp, "Z") {
		return MarketDataUpdated{}, &DecodeError{Field: "timestamp", Reason: fmt.Sprintf("%q is not UTC (…Z)", w.Timestamp)}
	}
	if e.Timestamp, err = time.Parse(time.RFC3339Nano, w.Timestamp); err != nil {
		return MarketDataUpdated{}, &DecodeError{Field: "timestamp", Reason: fmt.Sprintf("%q is not RFC 3339", w.Timestamp)}
	}
	e.Timestamp = e.Timestamp.UTC()
	if err := e.Validate(); err != nil {
		return MarketDataUpdated{}, err
	}
	return e, nil
}

// decimalField parses a plain decimal string (digits, one optional point, an
// optional leading minus; no exponent, no spaces).
func decimalField(field, s string) (decimal.Decimal, error) {
	// The error is built only on failure: a valid batch decodes 30,000 decimals.
	bad := func() error { return &DecodeError{Field: field, Reason: fmt.Sprintf("%q is not a decimal string", s)} }
	if s == "" || len(s) > 40 {
		return decimal.Decimal{}, bad()
	}
	digits, dots := 0, 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		case c == '-' && i == 0:
		default:
			return decimal.Decimal{}, bad()
		}
	}
	if digits == 0 || dots > 1 {
		return decimal.Decimal{}, bad()
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, bad()
	}
	return d, nil
}
