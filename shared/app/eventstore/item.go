package eventstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Item attribute names of an event item (docs/architecture.md §3). aggregateId and version are
// the table's keys; the snapshot attribute is present on every Nth item only.
const (
	AttrAggregateID   = topology.AttrAggregateID
	AttrVersion       = topology.AttrVersion
	AttrEventID       = "eventId"
	AttrEventType     = "eventType"
	AttrAggregateType = "aggregateType"
	AttrEventVersion  = "eventVersion"
	AttrTimestamp     = "timestamp"
	AttrUserID        = "userId"
	AttrCorrelationID = "correlationId"
	AttrCausationID   = "causationId"
	AttrRequestHash   = "requestHash"
	AttrSchemaVersion = "schemaVersion"
	AttrData          = "data"
	AttrSnapshot      = "snapshot"
)

// NumericAttrs are stored as DynamoDB numbers; every other attribute is a string.
var NumericAttrs = map[string]bool{AttrVersion: true, AttrEventVersion: true, AttrSchemaVersion: true}

// Item is an event item in adapter-neutral form: attribute name → value text.
// The data payload is JSON text (exact decimals stay strings inside it).
type Item map[string]string

// EncodeItem turns an event into its item.
func EncodeItem(e *portfolio.Event) (Item, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s version %d: %w", e.AggregateID, e.Version, err)
	}
	version := strconv.FormatInt(e.Version, 10)
	it := Item{
		AttrAggregateID:   e.AggregateID,
		AttrVersion:       version,
		AttrEventID:       e.EventID,
		AttrEventType:     e.EventType,
		AttrAggregateType: e.AggregateType,
		AttrEventVersion:  version,
		AttrTimestamp:     e.Timestamp.UTC().Format(time.RFC3339Nano),
		AttrUserID:        e.UserID,
		AttrSchemaVersion: strconv.Itoa(e.SchemaVersion),
		AttrData:          string(data),
	}
	// Empty strings are legal DynamoDB values, but absent attributes are smaller.
	if e.CorrelationID != "" {
		it[AttrCorrelationID] = e.CorrelationID
	}
	if e.CausationID != "" {
		it[AttrCausationID] = e.CausationID
	}
	if e.RequestHash != "" {
		it[AttrRequestHash] = e.RequestHash
	}
	return it, nil
}

// DecodeItem turns an item back into an event, failing with
// portfolio.ErrCorruptEvent (naming aggregate and version) on anything missing,
// malformed or unknown.
func DecodeItem(it Item) (portfolio.Event, error) {
	id := it[AttrAggregateID]
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: aggregate %q version %s: %s", portfolio.ErrCorruptEvent, id, it[AttrVersion], fmt.Sprintf(format, args...))
	}
	for _, required := range []string{AttrAggregateID, AttrVersion, AttrEventID, AttrEventType, AttrAggregateType, AttrEventVersion, AttrTimestamp, AttrUserID, AttrSchemaVersion, AttrData} {
		if _, ok := it[required]; !ok {
			return portfolio.Event{}, corrupt("missing attribute %s", required)
		}
	}
	version, err := strconv.ParseInt(it[AttrVersion], 10, 64)
	if err != nil || version < 1 {
		return portfolio.Event{}, corrupt("version is not a positive integer")
	}
	if it[AttrEventVersion] != it[AttrVersion] {
		return portfolio.Event{}, corrupt("eventVersion %s differs from the key", it[AttrEventVersion])
	}
	schema, err := strconv.Atoi(it[AttrSchemaVersion])
	if err != nil {
		return portfolio.Event{}, corrupt("schemaVersion %q is not an integer", it[AttrSchemaVersion])
	}
	ts, err := time.Parse(time.RFC3339Nano, it[AttrTimestamp])
	if err != nil {
		return portfolio.Event{}, corrupt("timestamp %q is not RFC 3339", it[AttrTimestamp])
	}
	return portfolio.AssembleEvent(portfolio.Event{
		EventID: it[AttrEventID], EventType: it[AttrEventType], AggregateID: id,
		AggregateType: it[AttrAggregateType], Version: version, Timestamp: ts,
		UserID: it[AttrUserID], CorrelationID: it[AttrCorrelationID], CausationID: it[AttrCausationID],
		RequestHash: it[AttrRequestHash], SchemaVersion: schema,
	}, []byte(it[AttrData]))
}
