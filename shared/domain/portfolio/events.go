package portfolio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// AggregateType names the aggregate in every event envelope.
const AggregateType = "Portfolio"

// SchemaVersion is the newest version of the event payload schemas
// (events/schemas/<EventType>.v<N>.json) this build reads and writes; it reads
// every version from 1 up to it. Each event is written with the lowest version
// that can carry it (SchemaVersionOf), so the events of a portfolio that uses
// nothing newer stay readable by builds that predate the newer version.
//
//	1  the first contract
//	2  multi-currency transactions: fxRate, toAmount, toCurrency, type
//	   CONVERSION, quote-unit currencies such as GBp
const SchemaVersion = 2

// SchemaVersionOf is the lowest schema version that can carry data: 2 when a
// transaction in it (recorded, imported, or the copy inside a void) uses a
// multi-currency field, else 1.
func SchemaVersionOf(data EventData) int {
	switch d := data.(type) {
	case *TransactionRecorded:
		return d.schemaVersion()
	case *TransactionVoided:
		return d.Voided.schemaVersion()
	case *TransactionsImported:
		for i := range d.Transactions {
			if v := d.Transactions[i].schemaVersion(); v > 1 {
				return v
			}
		}
	}
	return 1
}

// Event types. The strings are the stored contract: never rename one.
const (
	TypePortfolioCreated        = "PortfolioCreated"
	TypePortfolioDetailsChanged = "PortfolioDetailsChanged"
	TypePortfolioArchived       = "PortfolioArchived"
	TypeTransactionRecorded     = "TransactionRecorded"
	TypeTransactionVoided       = "TransactionVoided"
	TypeTargetAllocationSet     = "TargetAllocationSet"
	TypeTransactionsImported    = "TransactionsImported"
	// TypeAnalyticsSettingsChanged: see AnalyticsSettingsChanged (settings.go).
	TypeAnalyticsSettingsChanged = "AnalyticsSettingsChanged"
)

// EventTypes lists every event type this aggregate emits.
var EventTypes = []string{
	TypePortfolioCreated, TypePortfolioDetailsChanged, TypePortfolioArchived,
	TypeTransactionRecorded, TypeTransactionVoided, TypeTargetAllocationSet, TypeTransactionsImported,
	TypeAnalyticsSettingsChanged,
}

// Event is the envelope every stored event shares (the seed's base schema plus
// causationId and schemaVersion). Data is one of the payload types below.
type Event struct {
	EventID       string    `json:"eventId"`
	EventType     string    `json:"eventType"`
	AggregateID   string    `json:"aggregateId"`
	AggregateType string    `json:"aggregateType"`
	Version       int64     `json:"eventVersion"`
	Timestamp     time.Time `json:"timestamp"`
	UserID        string    `json:"userId"`
	CorrelationID string    `json:"correlationId"`
	CausationID   string    `json:"causationId"`
	// RequestHash fingerprints the request that carried the command (16 hex
	// digits; empty for events written before fingerprints, or by a caller that
	// gives none), so a retry under the same command ID with a different
	// request is told apart from a true retry.
	RequestHash   string    `json:"requestHash,omitempty"`
	SchemaVersion int       `json:"schemaVersion"`
	Data          EventData `json:"data"`
}

// EventData is implemented by pointers to the payload types only. Events are
// immutable once built: the aggregate's history points into their payloads rather
// than copying them, which is what makes a replay cheap.
type EventData interface{ eventType() string }

// PortfolioCreated opens a portfolio.
type PortfolioCreated struct {
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	BaseCurrency string    `json:"baseCurrency"`
	LotMethod    LotMethod `json:"lotMethod"`
}

// PortfolioDetailsChanged renames or re-describes a portfolio; both fields carry the
// new full values.
type PortfolioDetailsChanged struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// PortfolioArchived closes a portfolio to further commands.
type PortfolioArchived struct {
	Reason string `json:"reason,omitempty"`
}

// TransactionRecorded adds one transaction. Its Seq is the event's version.
type TransactionRecorded struct {
	Transaction
}

// TransactionVoided removes a transaction from every calculation. It carries a copy
// of the voided transaction so consumers (projections, a fold from a snapshot) need
// no lookup to undo its effect.
type TransactionVoided struct {
	TransactionID string      `json:"transactionId"`
	Reason        string      `json:"reason"`
	Voided        Transaction `json:"voided"`
}

// TransactionsImported records a whole import in one event, so that it is
// all-or-nothing in a single conditional write however many rows it has (a
// DynamoDB transaction takes at most 100 items). The i-th transaction's Seq is
// SeqOf(version, i).
type TransactionsImported struct {
	Transactions []Transaction `json:"transactions"`
}

// MaxImport bounds one import: about 200 bytes a transaction keeps the event item
// near 200 KB, half of DynamoDB's 400 KB limit.
const MaxImport = 1000

// TargetAllocationSet replaces the target weights and drift band.
type TargetAllocationSet struct {
	TargetAllocation
}

func (*PortfolioCreated) eventType() string        { return TypePortfolioCreated }
func (*PortfolioDetailsChanged) eventType() string { return TypePortfolioDetailsChanged }
func (*PortfolioArchived) eventType() string       { return TypePortfolioArchived }
func (*TransactionRecorded) eventType() string     { return TypeTransactionRecorded }
func (*TransactionVoided) eventType() string       { return TypeTransactionVoided }
func (*TargetAllocationSet) eventType() string     { return TypeTargetAllocationSet }
func (*TransactionsImported) eventType() string    { return TypeTransactionsImported }

// Target is one symbol's share of the portfolio.
type Target struct {
	Symbol string          `json:"symbol"`
	Weight decimal.Decimal `json:"weight"`
}

// TargetAllocation is the desired weight per symbol and the band (in weight units,
// 0.05 = ±5 percentage points) a holding may drift before rebalancing is suggested.
type TargetAllocation struct {
	Targets   []Target        `json:"targets"`
	DriftBand decimal.Decimal `json:"driftBand"`
}

// Validate checks weights in [0,1] that sum to exactly 1, unique non-empty
// symbols, and a band in (0, 1).
func (a TargetAllocation) Validate() error {
	if len(a.Targets) == 0 {
		return fmt.Errorf("%w: at least one target is required", ErrInvalidTargets)
	}
	seen := make(map[string]bool, len(a.Targets))
	sum := decimal.Zero
	for _, t := range a.Targets {
		if t.Symbol == "" || len(t.Symbol) > 32 || HasControl(t.Symbol) {
			return fmt.Errorf("%w: symbol %q must be 1 to 32 characters", ErrInvalidTargets, t.Symbol)
		}
		if seen[t.Symbol] {
			return fmt.Errorf("%w: symbol %s appears twice", ErrInvalidTargets, t.Symbol)
		}
		seen[t.Symbol] = true
		if t.Weight.IsNegative() || t.Weight.GreaterThan(decimal.NewFromInt(1)) {
			return fmt.Errorf("%w: weight %s of %s is outside [0,1]", ErrInvalidTargets, t.Weight, t.Symbol)
		}
		sum = sum.Add(t.Weight)
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		return fmt.Errorf("%w: weights sum to %s, not 1", ErrInvalidTargets, sum)
	}
	if !a.DriftBand.IsPositive() || !a.DriftBand.LessThan(decimal.NewFromInt(1)) {
		return fmt.Errorf("%w: drift band %s must be in (0, 1)", ErrInvalidTargets, a.DriftBand)
	}
	return nil
}

// envelopeJSON is Event with the payload left raw, for decoding by type.
type envelopeJSON struct {
	EventID       string          `json:"eventId"`
	EventType     string          `json:"eventType"`
	AggregateID   string          `json:"aggregateId"`
	AggregateType string          `json:"aggregateType"`
	Version       int64           `json:"eventVersion"`
	Timestamp     time.Time       `json:"timestamp"`
	UserID        string          `json:"userId"`
	CorrelationID string          `json:"correlationId"`
	CausationID   string          `json:"causationId"`
	RequestHash   string          `json:"requestHash"`
	SchemaVersion int             `json:"schemaVersion"`
	Data          json.RawMessage `json:"data"`
}

// UnmarshalJSON decodes the envelope and its payload by eventType. It fails, naming
// the aggregate and version, on an unknown type, a missing envelope field, or a
// payload that does not decode; it never panics.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env envelopeJSON
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%w: envelope: %v", ErrCorruptEvent, err)
	}
	e2, err := AssembleEvent(Event{
		EventID: env.EventID, EventType: env.EventType, AggregateID: env.AggregateID,
		AggregateType: env.AggregateType, Version: env.Version, Timestamp: env.Timestamp,
		UserID: env.UserID, CorrelationID: env.CorrelationID, CausationID: env.CausationID,
		RequestHash: env.RequestHash, SchemaVersion: env.SchemaVersion,
	}, env.Data)
	if err != nil {
		return err
	}
	*e = e2
	return nil
}

// AssembleEvent completes an envelope read from storage with its payload, decoded
// by the envelope's eventType, and checks the whole. Every store adapter builds
// events through it, so all of them fail alike on corrupt items.
func AssembleEvent(envelope Event, rawData []byte) (Event, error) {
	data, err := DecodeEventData(envelope.EventType, envelope.SchemaVersion, rawData)
	if err != nil {
		return Event{}, fmt.Errorf("aggregate %s version %d: %w", envelope.AggregateID, envelope.Version, err)
	}
	switch d := data.(type) {
	case *TransactionRecorded:
		d.Seq = SeqOf(envelope.Version, 0)
	case *TransactionsImported:
		for i := range d.Transactions {
			d.Transactions[i].Seq = SeqOf(envelope.Version, i)
		}
	}
	envelope.Data = data
	if err := envelope.CheckEnvelope(); err != nil {
		return Event{}, err
	}
	return envelope, nil
}

// DecodeEvent decodes one stored event. Unlike json.Unmarshal, whose syntax check
// runs before UnmarshalJSON, every failure here wraps ErrCorruptEvent.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	if !json.Valid(b) {
		return Event{}, fmt.Errorf("%w: not valid JSON", ErrCorruptEvent)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// CheckEnvelope verifies the fields every event must carry.
func (e *Event) CheckEnvelope() error {
	missing := ""
	switch {
	case e.EventID == "":
		missing = "eventId"
	case e.AggregateID == "":
		missing = "aggregateId"
	case e.Version < 1:
		missing = "eventVersion"
	case e.Timestamp.IsZero():
		missing = "timestamp"
	case e.UserID == "":
		missing = "userId"
	case e.Data == nil:
		missing = "data"
	}
	if missing != "" {
		return fmt.Errorf("%w: aggregate %q version %d: missing %s", ErrCorruptEvent, e.AggregateID, e.Version, missing)
	}
	if _, offset := e.Timestamp.Zone(); offset != 0 {
		return fmt.Errorf("%w: aggregate %q version %d: timestamp %s is not UTC", ErrCorruptEvent, e.AggregateID, e.Version, e.Timestamp.Format(time.RFC3339))
	}
	if e.AggregateType != AggregateType {
		return fmt.Errorf("%w: aggregate %q version %d: aggregateType %q, want %q", ErrCorruptEvent, e.AggregateID, e.Version, e.AggregateType, AggregateType)
	}
	if e.SchemaVersion < 1 || e.SchemaVersion > SchemaVersion {
		return fmt.Errorf("%w: aggregate %q version %d: schemaVersion %d not supported (this build reads up to %d)", ErrCorruptEvent, e.AggregateID, e.Version, e.SchemaVersion, SchemaVersion)
	}
	if need := SchemaVersionOf(e.Data); need > e.SchemaVersion {
		return fmt.Errorf("%w: aggregate %q version %d: its data needs schemaVersion %d, not %d", ErrCorruptEvent, e.AggregateID, e.Version, need, e.SchemaVersion)
	}
	if e.Data.eventType() != e.EventType {
		return fmt.Errorf("%w: aggregate %q version %d: eventType %q does not match its data", ErrCorruptEvent, e.AggregateID, e.Version, e.EventType)
	}
	return nil
}

// DecodeEventData decodes a payload of the given event type strictly: unknown
// fields are rejected, so a payload written by a newer schema is noticed rather than
// half-read. It holds the payload to the rules of schemaVersion, the version
// that wrote it.
func DecodeEventData(eventType string, schemaVersion int, raw []byte) (EventData, error) {
	var target EventData
	switch eventType {
	case TypePortfolioCreated:
		target = &PortfolioCreated{}
	case TypePortfolioDetailsChanged:
		target = &PortfolioDetailsChanged{}
	case TypePortfolioArchived:
		target = &PortfolioArchived{}
	case TypeTransactionRecorded:
		target = &TransactionRecorded{}
	case TypeTransactionVoided:
		target = &TransactionVoided{}
	case TypeTargetAllocationSet:
		target = &TargetAllocationSet{}
	case TypeTransactionsImported:
		target = &TransactionsImported{}
	case TypeAnalyticsSettingsChanged:
		target = &AnalyticsSettingsChanged{}
	default:
		return nil, fmt.Errorf("%w: unknown eventType %q", ErrCorruptEvent, eventType)
	}
	if schemaVersion < 1 || schemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%w: schemaVersion %d not supported (this build reads up to %d)", ErrCorruptEvent, schemaVersion, SchemaVersion)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("%w: %s without data", ErrCorruptEvent, eventType)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrCorruptEvent, eventType, err)
	}
	if err := validatePayload(target, schemaVersion); err != nil {
		return nil, fmt.Errorf("%w: %s data: %v", ErrCorruptEvent, eventType, err)
	}
	return target, nil
}

// validatePayload holds a stored payload to the rules of the schema version that
// wrote it: v2 added the multi-currency transaction fields, which a v1 payload
// may not carry (Transaction.validateStored). A future rule change bumps
// SchemaVersion instead of turning old events into corrupt ones.
func validatePayload(d EventData, schemaVersion int) error {
	switch d := d.(type) {
	case *PortfolioCreated:
		if strings.TrimSpace(d.Name) == "" {
			return fmt.Errorf("empty name")
		}
		if !currency.IsISO(d.BaseCurrency) {
			return fmt.Errorf("unknown base currency %q", d.BaseCurrency)
		}
		if d.LotMethod != FIFO && d.LotMethod != AverageCost {
			return fmt.Errorf("unknown lot method %q", d.LotMethod)
		}
	case *PortfolioDetailsChanged:
		if strings.TrimSpace(d.Name) == "" {
			return fmt.Errorf("empty name")
		}
	case *TransactionRecorded:
		if d.ID == "" {
			return fmt.Errorf("missing transactionId")
		}
		return d.validateStored(schemaVersion)
	case *TransactionVoided:
		if d.TransactionID == "" || d.Reason == "" {
			return fmt.Errorf("missing transactionId or reason")
		}
		// The copy is not validated (it was when recorded), but a v1 event
		// cannot carry a v2 field in it either.
		if feature := d.Voided.multiCurrencyFeature(); feature != "" && schemaVersion < 2 {
			return fmt.Errorf("voided: %s needs schemaVersion 2, not %d", feature, schemaVersion)
		}
	case *TargetAllocationSet:
		return d.Validate()
	case *AnalyticsSettingsChanged:
		return d.Validate()
	case *TransactionsImported:
		if len(d.Transactions) == 0 || len(d.Transactions) > MaxImport {
			return fmt.Errorf("%d transactions (want 1 to %d)", len(d.Transactions), MaxImport)
		}
		for i := range d.Transactions {
			if d.Transactions[i].ID == "" {
				return fmt.Errorf("transaction %d: missing transactionId", i)
			}
			if err := d.Transactions[i].validateStored(schemaVersion); err != nil {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
		}
	}
	return nil
}

// NewID returns a random RFC 4122 version 4 UUID.
func NewID() string { return uuid.New() }
