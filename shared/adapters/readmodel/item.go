package readmodel

import (
	"fmt"
	"strconv"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// DecodeItem turns an events-table item into an event for the projector, the same
// way for the live stream and for a rebuild. An item of a known type must decode
// fully (eventstore.DecodeItem; its errors wrap portfolio.ErrCorruptEvent). An item
// of a type this build does not know (a newer build's event, or another aggregate
// type sharing the table) becomes an envelope-only event (Data nil), which the
// projector skips while advancing the aggregate's checkpoint. fallback stands in
// for a missing or unreadable timestamp on such an item.
func DecodeItem(it eventstore.Item, fallback time.Time) (portfolio.Event, error) {
	t := it[eventstore.AttrEventType]
	if t == "" || KnownEventType(t) {
		return eventstore.DecodeItem(it)
	}
	id := it[eventstore.AttrAggregateID]
	v, err := strconv.ParseInt(it[eventstore.AttrVersion], 10, 64)
	if id == "" || err != nil || v < 1 {
		return portfolio.Event{}, fmt.Errorf("%w: event of unknown type %q without aggregate ID or version", portfolio.ErrCorruptEvent, t)
	}
	ts, err := time.Parse(time.RFC3339Nano, it[eventstore.AttrTimestamp])
	if err != nil {
		ts = fallback
	}
	return portfolio.Event{
		EventID: it[eventstore.AttrEventID], EventType: t, AggregateID: id, AggregateType: it[eventstore.AttrAggregateType],
		Version: v, Timestamp: ts.UTC(), UserID: it[eventstore.AttrUserID], CorrelationID: it[eventstore.AttrCorrelationID],
		CausationID: it[eventstore.AttrCausationID],
	}, nil
}
