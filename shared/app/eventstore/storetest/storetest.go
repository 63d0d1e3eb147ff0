// Package storetest is the contract suite of the event store port. Every adapter
// runs it (eventstore.Memory in its own tests, the DynamoDB adapter against
// DynamoDB Local), so all of them are held to one definition of correct.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// Subject is an adapter under test: the port plus a back door to plant corrupt
// items (value nil removes the attribute).
type Subject interface {
	eventstore.Store
	Tamper(ctx context.Context, aggregateID string, version int64, attr string, value *string) error
}

// Run runs the whole suite. newSubject must return a store with no data of other
// tests visible under fresh aggregate IDs (a fresh table, or unique IDs suffice:
// the suite names aggregates after the test).
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	cases := []struct {
		name string
		fn   func(*testing.T, Subject)
	}{
		{"AppendLoadRoundTrip", testRoundTrip},
		{"EachEventKeepsItsSchemaVersion", testSchemaVersions},
		{"MissingAggregateIsEmpty", testMissing},
		{"StaleExpectedVersionConflicts", testConflict},
		{"MultiEventAppendIsAtomic", testAtomic},
		{"RejectsMalformedAppends", testMalformed},
		{"SnapshotPlusTailEqualsFullHistory", testSnapshot},
		{"FiftyRacersOneWinner", testRace},
		{"LargeAggregatePaginates", testLarge},
		{"CorruptItemsFailClearly", testCorrupt},
		{"UnreadableSnapshotIsACacheMiss", testUnreadableSnapshot},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newSubject(t))
		})
	}
}

var t0 = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

// history decides n in-order buys on a fresh aggregate and returns its events
// (creation included, so n+1 events).
func history(t testing.TB, id string, n int) []portfolio.Event {
	t.Helper()
	seq := 0
	meta := portfolio.Meta{UserID: "user-1", CorrelationID: "corr-" + id, Now: t0, NewID: func() string { seq++; return fmt.Sprintf("%s-e%d", id, seq) }}
	meta.CausationID = "create"
	p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: "Contract", BaseCurrency: "USD"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	// Early enough that 10,000 days stay within the trade-date bounds at t0.
	day := calendar.MustNew(1995, 1, 1)
	for i := 0; i < n; i++ {
		meta.CausationID = fmt.Sprintf("cmd-%d", i)
		tx := portfolio.Transaction{Type: portfolio.Buy, Date: day.AddDays(i), Symbol: fmt.Sprintf("S%02d", i%20),
			Quantity: decimal.New(int64(i%7+1), -1), Price: decimal.RequireFromString("123.45"), Fee: decimal.RequireFromString("0.99"), Currency: "USD"}
		if _, err := p.RecordTransaction(tx, meta); err != nil {
			t.Fatal(err)
		}
	}
	return p.Pending()
}

var idCounter atomic.Int64

// aggregateID is unique per run and per call, so suites can share a table.
func aggregateID(*testing.T) string {
	return fmt.Sprintf("pf-%d-%d", runID, idCounter.Add(1))
}

var runID = time.Now().UnixNano() % 1e12

func appendAll(t testing.TB, s eventstore.Store, id string, events []portfolio.Event, every int) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(events); start += eventstore.MaxEventsPerAppend {
		end := min(start+eventstore.MaxEventsPerAppend, len(events))
		var snap []byte
		if every > 0 && end/every > start/every {
			p, err := portfolio.Fold(nil, events[:end])
			if err != nil {
				t.Fatal(err)
			}
			if snap, err = p.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Append(ctx, id, int64(start), events[start:end], snap); err != nil {
			t.Fatalf("append %d..%d: %v", start+1, end, err)
		}
	}
}

func encode(t testing.TB, events []portfolio.Event) []string {
	t.Helper()
	out := make([]string, len(events))
	for i := range events {
		b, err := json.Marshal(events[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

func sameEvents(t testing.TB, got, want []portfolio.Event) {
	t.Helper()
	g, w := encode(t, got), encode(t, want)
	if len(g) != len(w) {
		t.Fatalf("got %d events, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("event %d differs:\n got %s\nwant %s", i, g[i], w[i])
		}
	}
}

func testRoundTrip(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 5)
	// One single-event append, then a multi-event one.
	if err := s.Append(ctx, id, 0, events[:1], nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, id, 1, events[1:], nil); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(ctx, id, eventstore.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Snapshot != nil || st.Version() != 6 {
		t.Fatalf("snapshot %v, version %d; want none, 6", st.Snapshot != nil, st.Version())
	}
	sameEvents(t, st.Events, events)
	// Decimal text survives exactly: "0.1" stays "0.1", not 0.1000000001.
	rec := st.Events[1].Data.(*portfolio.TransactionRecorded)
	if rec.Quantity.String() != "0.1" || rec.Price.String() != "123.45" || rec.Seq != portfolio.SeqOf(2, 0) {
		t.Fatalf("decoded %+v", rec.Transaction)
	}
	part, err := s.Events(ctx, id, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, part, events[1:4])
}

// testSchemaVersions stores events of both schema versions side by side: a
// foreign trade is version 2, everything else stays 1, and each loads as it was
// written. An event stamped lower than its data needs is refused before it is
// stored.
func testSchemaVersions(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 1)
	p, err := portfolio.Fold(nil, events)
	if err != nil {
		t.Fatal(err)
	}
	p.MarkCommitted()
	meta := portfolio.Meta{UserID: "user-1", CausationID: "foreign", Now: t0}
	if _, err := p.RecordTransaction(portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(1995, 2, 1), Symbol: "VUSA.L",
		Quantity: decimal.NewFromInt(3), Price: decimal.RequireFromString("8125.5"), Currency: "GBp", FXRate: decimal.RequireFromString("1.2702")}, meta); err != nil {
		t.Fatal(err)
	}
	foreign := p.Pending()[0]
	if foreign.SchemaVersion != 2 || events[1].SchemaVersion != 1 {
		t.Fatalf("schema versions %d and %d, want 1 for a USD trade and 2 for a GBp one", events[1].SchemaVersion, foreign.SchemaVersion)
	}
	all := append(slices.Clone(events), foreign)

	stale := foreign
	stale.SchemaVersion = 1
	if err := s.Append(ctx, id, 0, append(slices.Clone(events), stale), nil); err == nil || !strings.Contains(err.Error(), "needs schemaVersion 2") {
		t.Fatalf("append of a v1 event with a v2 field: err = %v", err)
	}
	if err := s.Append(ctx, id, 0, all, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, got, all) // the whole envelope, schemaVersion included
}

func testMissing(t *testing.T, s Subject) {
	st, err := s.Load(context.Background(), aggregateID(t), eventstore.LoadOptions{Consistent: true})
	if err != nil || st.Version() != 0 || len(st.Events) != 0 || st.Snapshot != nil {
		t.Fatalf("missing aggregate: %+v, %v", st, err)
	}
	ev, err := s.Events(context.Background(), aggregateID(t), 1, 0)
	if err != nil || len(ev) != 0 {
		t.Fatalf("missing aggregate events: %d, %v", len(ev), err)
	}
}

func testConflict(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 3)
	appendAll(t, s, id, events[:2], 0)
	// A writer that loaded version 1 tries to write version 2 again.
	err := s.Append(ctx, id, 1, events[1:3], nil)
	if !errors.Is(err, portfolio.ErrConcurrencyConflict) {
		t.Fatalf("stale append: err = %v, want ErrConcurrencyConflict", err)
	}
	// And a create racing an existing aggregate.
	if err := s.Append(ctx, id, 0, events[:1], nil); !errors.Is(err, portfolio.ErrConcurrencyConflict) {
		t.Fatalf("second create: err = %v", err)
	}
	st, _ := s.Load(ctx, id, eventstore.LoadOptions{Consistent: true})
	sameEvents(t, st.Events, events[:2])
}

func testAtomic(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 6)
	appendAll(t, s, id, events[:3], 0) // versions 1..3
	// Versions 3..6 from a stale writer: 3 exists, so 4..6 must not be written.
	if err := s.Append(ctx, id, 2, events[2:6], nil); !errors.Is(err, portfolio.ErrConcurrencyConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
	all, err := s.Events(ctx, id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, all, events[:3])
	// The right writer then succeeds with all four.
	if err := s.Append(ctx, id, 3, events[3:7], nil); err != nil {
		t.Fatal(err)
	}
	all, _ = s.Events(ctx, id, 1, 0)
	sameEvents(t, all, events)
}

func testMalformed(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 2*eventstore.MaxEventsPerAppend)
	if err := s.Append(ctx, id, 0, events[:eventstore.MaxEventsPerAppend+1], nil); !errors.Is(err, eventstore.ErrTooManyEvents) {
		t.Fatalf("101 events: err = %v", err)
	}
	if err := s.Append(ctx, id, 0, nil, nil); err == nil {
		t.Fatal("empty append accepted")
	}
	if err := s.Append(ctx, id, 5, events[:1], nil); err == nil || errors.Is(err, portfolio.ErrConcurrencyConflict) {
		t.Fatalf("versions not following expected: err = %v", err)
	}
	if err := s.Append(ctx, id+"-other", 0, events[:1], nil); err == nil {
		t.Fatal("event of another aggregate accepted")
	}
	if ev, _ := s.Events(ctx, id, 1, 0); len(ev) != 0 {
		t.Fatalf("refused appends wrote %d events", len(ev))
	}
}

func testSnapshot(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 349) // 350 events; appends of 100, snapshot at 100, 200, 300
	appendAll(t, s, id, events, 100)
	st, err := s.Load(ctx, id, eventstore.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.SnapshotVersion != 300 || len(st.Events) != 50 || st.Version() != 350 {
		t.Fatalf("snapshot at %d with %d tail events (version %d); want 300, 50, 350", st.SnapshotVersion, len(st.Events), st.Version())
	}
	fromSnap, err := portfolio.Fold(st.Snapshot, st.Events)
	if err != nil {
		t.Fatal(err)
	}
	full, err := portfolio.Fold(nil, events)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := fromSnap.Snapshot()
	b, _ := full.Snapshot()
	if !bytes.Equal(a, b) {
		t.Fatalf("snapshot+tail differs from full history:\n%s\n%s", a, b)
	}
}

func testRace(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 10)
	appendAll(t, s, id, events, 0)
	const racers = 50
	base, err := portfolio.Fold(nil, events)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, racers)
	candidates := make([]portfolio.Event, racers)
	for r := 0; r < racers; r++ {
		p, _ := portfolio.Fold(nil, events)
		_, err := p.RecordTransaction(portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2026, 3, 2), Symbol: "RACE",
			Quantity: decimal.NewFromInt(int64(r + 1)), Price: decimal.NewFromInt(1), Currency: "USD"},
			portfolio.Meta{UserID: "user-1", Now: t0, CausationID: fmt.Sprintf("racer-%d", r), NewID: func() string { return fmt.Sprintf("racer-%d", r) }})
		if err != nil {
			t.Fatal(err)
		}
		candidates[r] = p.Pending()[len(p.Pending())-1]
	}
	start := make(chan struct{})
	for r := 0; r < racers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			<-start
			results[r] = s.Append(ctx, id, base.Version(), candidates[r:r+1], nil)
		}(r)
	}
	close(start)
	wg.Wait()
	winner := -1
	for r, err := range results {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("racers %d and %d both appended version %d", winner, r, base.Version()+1)
			}
			winner = r
		case !errors.Is(err, portfolio.ErrConcurrencyConflict):
			t.Fatalf("racer %d: unexpected error %v", r, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	all, err := s.Events(ctx, id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, all, append(events[:len(events):len(events)], candidates[winner]))
}

func testLarge(t *testing.T, s Subject) {
	if testing.Short() {
		t.Skip("10,000 events")
	}
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 9_999) // 10,000 events
	appendAll(t, s, id, events, 0)
	all, err := s.Events(ctx, id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(events) {
		t.Fatalf("read %d events, want %d", len(all), len(events))
	}
	for i := range all {
		if all[i].Version != int64(i+1) || all[i].EventID != events[i].EventID {
			t.Fatalf("event %d is version %d (%s)", i, all[i].Version, all[i].EventID)
		}
	}
	// No snapshot: Load returns everything, in order, across pages.
	st, err := s.Load(ctx, id, eventstore.LoadOptions{})
	if err != nil || len(st.Events) != len(events) || st.Events[len(events)-1].Version != 10_000 {
		t.Fatalf("load: %d events, %v", len(st.Events), err)
	}
	mid, err := s.Events(ctx, id, 4_000, 6_500)
	if err != nil || len(mid) != 2_501 || mid[0].Version != 4_000 || mid[2_500].Version != 6_500 {
		t.Fatalf("range: %d events, %v", len(mid), err)
	}
}

func testCorrupt(t *testing.T, s Subject) {
	ctx := context.Background()
	str := func(v string) *string { return &v }
	cases := []struct {
		name  string
		attr  string
		value *string
		want  string
	}{
		{"bad JSON data", eventstore.AttrData, str(`{"type":"BUY",`), "data"},
		{"unknown event type", eventstore.AttrEventType, str("TransactionTeleported"), "unknown eventType"},
		{"missing event ID", eventstore.AttrEventID, nil, "eventId"},
		{"missing data", eventstore.AttrData, nil, "data"},
		{"unknown data field", eventstore.AttrData, str(`{"transactionId":"x","type":"BUY","date":"2020-01-01","symbol":"A","quantity":"1","price":"1","currency":"USD","colour":"red"}`), "colour"},
		{"bad timestamp", eventstore.AttrTimestamp, str("yesterday"), "timestamp"},
		{"future schema", eventstore.AttrSchemaVersion, str("7"), "schemaVersion"},
		{"v2 field in a v1 event", eventstore.AttrData, str(`{"transactionId":"x","type":"BUY","date":"2020-01-01","symbol":"A","quantity":"1","price":"1","currency":"GBp","fxRate":"1.27"}`), "needs schemaVersion 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := aggregateID(t)
			appendAll(t, s, id, history(t, id, 3), 0)
			if err := s.Tamper(ctx, id, 3, c.attr, c.value); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx, id, eventstore.LoadOptions{Consistent: true})
			if !errors.Is(err, portfolio.ErrCorruptEvent) {
				t.Fatalf("load: err = %v, want ErrCorruptEvent", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, id) || !strings.Contains(msg, "version 3") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q should name the aggregate, version 3 and %q", msg, c.want)
			}
			if _, err := s.Events(ctx, id, 1, 0); !errors.Is(err, portfolio.ErrCorruptEvent) {
				t.Fatalf("events: err = %v", err)
			}
			// The healthy prefix still reads.
			if ev, err := s.Events(ctx, id, 1, 2); err != nil || len(ev) != 2 {
				t.Fatalf("prefix: %d, %v", len(ev), err)
			}
		})
	}
}

// testUnreadableSnapshot plants a snapshot that neither decompresses nor
// decodes: Load must still succeed, and what it returns must fold to the
// history (directly, or through the full history the command service falls
// back to when the snapshot does not restore).
func testUnreadableSnapshot(t *testing.T, s Subject) {
	ctx := context.Background()
	id := aggregateID(t)
	events := history(t, id, 14)
	appendAll(t, s, id, events[:10], 10) // a snapshot on version 10
	if err := s.Append(ctx, id, 10, events[10:], nil); err != nil {
		t.Fatal(err)
	}
	garbage := "\x00not a snapshot"
	if err := s.Tamper(ctx, id, 10, eventstore.AttrSnapshot, &garbage); err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(ctx, id, eventstore.LoadOptions{Consistent: true})
	if err != nil {
		t.Fatalf("load with an unreadable snapshot: %v", err)
	}
	p, err := portfolio.Fold(st.Snapshot, st.Events)
	if err != nil {
		if st.Snapshot == nil {
			t.Fatalf("fold without a snapshot: %v", err)
		}
		all, err := s.Events(ctx, id, 1, 0)
		if err != nil {
			t.Fatalf("full history: %v", err)
		}
		if p, err = portfolio.Fold(nil, all); err != nil {
			t.Fatalf("fold of the full history: %v", err)
		}
	}
	if p.Version() != int64(len(events)) {
		t.Fatalf("folded to version %d, want %d", p.Version(), len(events))
	}
}
