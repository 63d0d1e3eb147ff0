// Package dynamostream reads the records of the events table's DynamoDB stream
// for the functions that consume it (projector, analytics): attributes as text,
// and a new image as the event store's item.
package dynamostream

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
)

// ErrBadImage is wrapped by Item's errors: the record is poison.
var ErrBadImage = errors.New("stream record image")

// Text is m's string or number attribute name as text; "" when it is absent,
// null or of another type.
func Text(m map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := m[name]
	if !ok || v.IsNull() {
		return ""
	}
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return v.Number()
	}
	return ""
}

// KeyOrImage is Text of the record's keys, else of its new image.
func KeyOrImage(r *events.DynamoDBStreamRecord, name string) string {
	if s := Text(r.Keys, name); s != "" {
		return s
	}
	return Text(r.NewImage, name)
}

// Item converts a record's new image to the item form eventstore.DecodeItem
// reads: strings and numbers as text. The binary snapshot attribute is left out
// (no stream consumer needs it); any other attribute type makes the record
// poison.
func Item(img map[string]events.DynamoDBAttributeValue) (eventstore.Item, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("%w: no NewImage (is the stream's view type NEW_IMAGE?)", ErrBadImage)
	}
	it := make(eventstore.Item, len(img))
	for k, v := range img {
		if v.IsNull() && v.DataType() != events.DataTypeNull {
			return nil, fmt.Errorf("%w: attribute %s has no value", ErrBadImage, k)
		}
		switch v.DataType() {
		case events.DataTypeString:
			it[k] = v.String()
		case events.DataTypeNumber:
			it[k] = v.Number()
		case events.DataTypeBinary:
			if k != eventstore.AttrSnapshot {
				return nil, fmt.Errorf("%w: attribute %s is binary", ErrBadImage, k)
			}
		default:
			return nil, fmt.Errorf("%w: attribute %s has DynamoDB type %d", ErrBadImage, k, v.DataType())
		}
	}
	return it, nil
}
