// Package dynamostore is the DynamoDB adapter of the event store port.
//
// Layout (docs/architecture.md §3): one item per event, partition key aggregateId, sort key
// version. Appending one event is a PutItem conditioned on
// attribute_not_exists(version); several events are one TransactWriteItems of such
// puts, so a lost race writes nothing. A snapshot is not an item of its own: it
// rides, compressed, on the event item it describes. Loading is therefore one
// descending Query that stops at the first item carrying a snapshot — one request
// and one read unit for a typical portfolio, whatever the length of its history.
package dynamostore

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	otelattr "go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Options tunes the store.
type Options struct {
	// SnapshotEvery must match the command service's snapshot interval: Load's
	// first page reads this many items plus one, which always reaches the newest
	// snapshot without reading (and paying for) more. Default 10.
	SnapshotEvery int
}

// Store is the adapter.
type Store struct {
	client API
	table  string
	opts   Options
	usage  usageMeter
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on the named table.
func New(client API, table string, opts Options) *Store {
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = 10
	}
	return &Store{client: client, table: table, opts: opts}
}

// Append implements eventstore.Store.
// Each item carries the traceparent of the append's span (attribute
// traceparent): the stream's consumers continue the trace from it.
func (s *Store) Append(ctx context.Context, aggregateID string, expectedVersion int64, events []portfolio.Event, snapshot []byte) (err error) {
	if err := eventstore.CheckAppend(aggregateID, expectedVersion, events); err != nil {
		return err
	}
	ctx, span := tracing.Start(ctx, "eventstore append", trace.WithAttributes(otelattr.Int("events", len(events)),
		otelattr.String("eventType", events[0].EventType)))
	defer func() { tracing.End(span, err) }()
	traceparent := tracing.Traceparent(ctx)
	items := make([]map[string]types.AttributeValue, len(events))
	for i := range events {
		it, err := eventstore.EncodeItem(&events[i])
		if err != nil {
			return err
		}
		items[i] = toAttributes(it)
		if traceparent != "" {
			items[i][tracing.AttrTraceparent] = &types.AttributeValueMemberS{Value: traceparent}
		}
	}
	if snapshot != nil {
		z, err := compress(snapshot)
		if err != nil {
			return fmt.Errorf("append to %s: compress snapshot: %w", aggregateID, err)
		}
		last := items[len(items)-1]
		// An item may not exceed 400 KB. A snapshot that would push it near that is
		// left out: loads then fold a longer tail, which is slower but correct.
		if ItemSize(last)+len(eventstore.AttrSnapshot)+len(z) <= maxItemWithSnapshot {
			last[eventstore.AttrSnapshot] = &types.AttributeValueMemberB{Value: z}
		}
	}
	cond := aws.String("attribute_not_exists(#v)")
	names := map[string]string{"#v": eventstore.AttrVersion}

	if len(items) == 1 {
		out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: items[0],
			ConditionExpression: cond, ExpressionAttributeNames: names,
			ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		})
		if err != nil {
			var ccf *types.ConditionalCheckFailedException
			if errors.As(err, &ccf) {
				return eventstore.Conflict(aggregateID, expectedVersion)
			}
			return fmt.Errorf("append to %s: put version %d: %w", aggregateID, expectedVersion+1, err)
		}
		s.usage.add(writeOp, out.ConsumedCapacity)
		s.usage.computed(units(writeUnits(items, false)))
		return nil
	}

	tx := make([]types.TransactWriteItem, len(items))
	for i, it := range items {
		tx[i] = types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it, ConditionExpression: cond, ExpressionAttributeNames: names}}
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: tx, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
	// The client request token makes the SDK's own retry of a transaction whose
	// response was lost succeed instead of failing its conditions on items it wrote.
	if id := events[0].EventID; len(id) <= 36 {
		in.ClientRequestToken = aws.String(id)
	}
	out, err := s.client.TransactWriteItems(ctx, in)
	if err != nil {
		var canceled *types.TransactionCanceledException
		if errors.As(err, &canceled) {
			for _, r := range canceled.CancellationReasons {
				// A failed condition is a lost race; TransactionConflict is another
				// transaction on the same items in flight — the same race, retried alike.
				if c := aws.ToString(r.Code); c == "ConditionalCheckFailed" || c == "TransactionConflict" {
					return eventstore.Conflict(aggregateID, expectedVersion)
				}
			}
		}
		return fmt.Errorf("append to %s: transact versions %d..%d: %w", aggregateID, expectedVersion+1, expectedVersion+int64(len(events)), err)
	}
	s.usage.computed(units(writeUnits(items, true)))
	if len(out.ConsumedCapacity) == 0 {
		s.usage.add(writeOp, nil)
	}
	for i := range out.ConsumedCapacity {
		s.usage.add(writeOp, &out.ConsumedCapacity[i])
	}
	return nil
}

// Load implements eventstore.Store: one descending Query, stopping at the newest
// snapshot.
func (s *Store) Load(ctx context.Context, aggregateID string, opts eventstore.LoadOptions) (eventstore.Stream, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": eventstore.AttrAggregateID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: aggregateID}},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(opts.Consistent),
		Limit:                     aws.Int32(int32(s.opts.SnapshotEvery + 1)),
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	}
	var newestFirst []eventstore.Item
	var st eventstore.Stream
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return eventstore.Stream{}, fmt.Errorf("load %s: %w", aggregateID, err)
		}
		s.usage.add(readOp, out.ConsumedCapacity)
		s.usage.computed(readUnits(out.Items, opts.Consistent), 0, 0)
		for _, av := range out.Items {
			if z, ok := av[eventstore.AttrSnapshot].(*types.AttributeValueMemberB); ok {
				// A snapshot that does not decompress is a cache miss, not a
				// corrupt aggregate: read on to an older one or the first event.
				if snap, err := decompress(z.Value); err == nil {
					v, err := versionOf(av)
					if err != nil {
						return eventstore.Stream{}, fmt.Errorf("load %s: %w", aggregateID, err)
					}
					st.Snapshot, st.SnapshotVersion = snap, v
					return finishLoad(aggregateID, st, newestFirst)
				}
			}
			it, err := ItemFromAttributes(av)
			if err != nil {
				return eventstore.Stream{}, fmt.Errorf("load %s: %w", aggregateID, err)
			}
			newestFirst = append(newestFirst, it)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return finishLoad(aggregateID, st, newestFirst)
		}
		// Past the first page there is no snapshot nearby: read big pages.
		in.ExclusiveStartKey, in.Limit = out.LastEvaluatedKey, nil
	}
}

func finishLoad(aggregateID string, st eventstore.Stream, newestFirst []eventstore.Item) (eventstore.Stream, error) {
	st.Events = make([]portfolio.Event, len(newestFirst))
	next := st.SnapshotVersion + 1
	for i := range newestFirst {
		e, err := eventstore.DecodeItem(newestFirst[len(newestFirst)-1-i])
		if err != nil {
			return eventstore.Stream{}, fmt.Errorf("load %s: %w", aggregateID, err)
		}
		if e.Version != next {
			return eventstore.Stream{}, fmt.Errorf("load %s: %w: version %d where %d was expected", aggregateID, portfolio.ErrCorruptEvent, e.Version, next)
		}
		next++
		st.Events[i] = e
	}
	return st, nil
}

// Events implements eventstore.Store, reading consistently and ascending.
func (s *Store) Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error) {
	from = max(from, 1)
	if to <= 0 {
		to = 1<<53 - 1 // DynamoDB numbers beyond this lose integer precision in many clients
	}
	if from > to {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("#id = :id AND #v BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{
			"#id": eventstore.AttrAggregateID, "#v": eventstore.AttrVersion,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id":   &types.AttributeValueMemberS{Value: aggregateID},
			":from": &types.AttributeValueMemberN{Value: strconv.FormatInt(from, 10)},
			":to":   &types.AttributeValueMemberN{Value: strconv.FormatInt(to, 10)},
		},
		ConsistentRead:         aws.Bool(true),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	}
	var events []portfolio.Event
	next := from
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("events of %s from %d: %w", aggregateID, next, err)
		}
		s.usage.add(readOp, out.ConsumedCapacity)
		s.usage.computed(readUnits(out.Items, true), 0, 0)
		for _, av := range out.Items {
			it, err := ItemFromAttributes(av)
			if err != nil {
				return nil, fmt.Errorf("events of %s: %w", aggregateID, err)
			}
			e, err := eventstore.DecodeItem(it)
			if err != nil {
				return nil, fmt.Errorf("events of %s: %w", aggregateID, err)
			}
			if e.Version != next {
				return nil, fmt.Errorf("events of %s: %w: version %d where %d was expected", aggregateID, portfolio.ErrCorruptEvent, e.Version, next)
			}
			next++
			events = append(events, e)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return events, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Tamper rewrites one attribute of a stored item (nil removes it), bypassing every
// check; the contract suite plants corrupt events with it.
func (s *Store) Tamper(ctx context.Context, aggregateID string, version int64, attr string, value *string) error {
	av := func(v string) types.AttributeValue { return attribute(attr, v) }
	if attr == eventstore.AttrSnapshot { // raw bytes, as a snapshot that no longer decompresses
		av = func(v string) types.AttributeValue { return &types.AttributeValueMemberB{Value: []byte(v)} }
	}
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			eventstore.AttrAggregateID: &types.AttributeValueMemberS{Value: aggregateID},
			eventstore.AttrVersion:     &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)},
		},
		ExpressionAttributeNames: map[string]string{"#a": attr},
	}
	if value == nil {
		in.UpdateExpression = aws.String("REMOVE #a")
	} else {
		in.UpdateExpression = aws.String("SET #a = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": av(*value)}
	}
	_, err := s.client.UpdateItem(ctx, in)
	return err
}

const maxItemWithSnapshot = 350 << 10

// ItemSize is an item's size by DynamoDB's rules: attribute name lengths plus
// value sizes (strings and binaries by length, numbers about one byte per two
// digits plus one). Capacity is charged per KB written and per 4 KB read.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k)
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(x.Value)
		case *types.AttributeValueMemberN:
			n += (len(strings.TrimLeft(x.Value, "-0"))+1)/2 + 1
		case *types.AttributeValueMemberB:
			n += len(x.Value)
		default:
			n += 1
		}
	}
	return n
}

// Usage is the capacity the store has consumed: as DynamoDB reported it, and as
// computed from item sizes by DynamoDB's published rules (writes: one unit per KB
// per item, two for transactional writes; reads: one unit per 4 KB of the
// request's summed item sizes, half for eventually consistent reads). DynamoDB
// Local reports totals that skip the per-item rounding and the transactional
// charge; the computed figures are what AWS would bill.
type Usage struct {
	Requests           int64
	ReadUnits          float64
	WriteUnits         float64
	ComputedReadUnits  float64
	ComputedWriteUnits float64
	// LargestItem is the largest item written, in bytes.
	LargestItem int
}

// Usage returns the capacity consumed since the store was made.
func (s *Store) Usage() Usage { return s.usage.get() }

type usageMeter struct {
	mu sync.Mutex
	u  Usage
}

type opKind int

const (
	readOp opKind = iota
	writeOp
)

// add books one request's capacity. DynamoDB (and DynamoDB Local) may report only
// the total, so the operation's kind decides where a bare total goes.
func (m *usageMeter) add(kind opKind, c *types.ConsumedCapacity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.u.Requests++
	if c == nil {
		return
	}
	r, w := aws.ToFloat64(c.ReadCapacityUnits), aws.ToFloat64(c.WriteCapacityUnits)
	if c.ReadCapacityUnits == nil && c.WriteCapacityUnits == nil {
		if kind == readOp {
			r = aws.ToFloat64(c.CapacityUnits)
		} else {
			w = aws.ToFloat64(c.CapacityUnits)
		}
	}
	m.u.ReadUnits += r
	m.u.WriteUnits += w
}

// computed books the rule-based figures of one request.
func (m *usageMeter) computed(readUnits, writeUnits float64, largest int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.u.ComputedReadUnits += readUnits
	m.u.ComputedWriteUnits += writeUnits
	m.u.LargestItem = max(m.u.LargestItem, largest)
}

func writeUnits(items []map[string]types.AttributeValue, transactional bool) (units float64, largest int) {
	for _, it := range items {
		size := ItemSize(it)
		largest = max(largest, size)
		u := float64((size + 1023) / 1024)
		if transactional {
			u *= 2
		}
		units += u
	}
	return units, largest
}

func readUnits(items []map[string]types.AttributeValue, consistent bool) float64 {
	total := 0
	for _, it := range items {
		total += ItemSize(it)
	}
	u := float64(max((total+4095)/4096, 1))
	if !consistent {
		u /= 2
	}
	return u
}

func units(u float64, largest int) (float64, float64, int) { return 0, u, largest }

func (m *usageMeter) get() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.u
}

func attribute(name, value string) types.AttributeValue {
	if eventstore.NumericAttrs[name] {
		return &types.AttributeValueMemberN{Value: value}
	}
	return &types.AttributeValueMemberS{Value: value}
}

func toAttributes(it eventstore.Item) map[string]types.AttributeValue {
	av := make(map[string]types.AttributeValue, len(it)+1)
	for k, v := range it {
		av[k] = attribute(k, v)
	}
	return av
}

// ItemFromAttributes converts a stored event item to the adapter-neutral Item,
// leaving out the binary snapshot and failing with portfolio.ErrCorruptEvent on
// any other attribute that is not a string or a number.
func ItemFromAttributes(av map[string]types.AttributeValue) (eventstore.Item, error) {
	it := make(eventstore.Item, len(av))
	for k, v := range av {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			it[k] = x.Value
		case *types.AttributeValueMemberN:
			it[k] = x.Value
		case *types.AttributeValueMemberB:
			if k != eventstore.AttrSnapshot {
				return nil, fmt.Errorf("%w: attribute %s of %s is binary", portfolio.ErrCorruptEvent, k, describe(av))
			}
		default:
			return nil, fmt.Errorf("%w: attribute %s of %s has type %T", portfolio.ErrCorruptEvent, k, describe(av), v)
		}
	}
	return it, nil
}

func versionOf(av map[string]types.AttributeValue) (int64, error) {
	n, ok := av[eventstore.AttrVersion].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%w: snapshot item %s has no numeric version", portfolio.ErrCorruptEvent, describe(av))
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: snapshot item version %q", portfolio.ErrCorruptEvent, n.Value)
	}
	return v, nil
}

func describe(av map[string]types.AttributeValue) string {
	id, _ := av[eventstore.AttrAggregateID].(*types.AttributeValueMemberS)
	v, _ := av[eventstore.AttrVersion].(*types.AttributeValueMemberN)
	var ids, vs string
	if id != nil {
		ids = id.Value
	}
	if v != nil {
		vs = v.Value
	}
	return fmt.Sprintf("aggregate %q version %s", ids, vs)
}

// Snapshots are JSON with repetitive structure; DEFLATE at its best level (a few
// tens of microseconds for a few KB, once per ten commands) roughly halves them,
// which keeps the item that carries one within a write unit.
func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decompress(b []byte) ([]byte, error) {
	// Snapshots are bounded by the 400 KB item size; refuse to inflate a bomb.
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), 16<<20))
}
