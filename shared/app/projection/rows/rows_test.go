package rows_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"

	eventschema "github.com/portfoliotracker/tracker/events"
	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// The pure projection, without a database: the caller's part (loading the stored
// state, writing the rows) is played by carrying each aggregate's rows from one
// batch to the next in memory. The Postgres side is in shared/adapters/readmodel.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// history is the sample portfolio of events/samples, in version order.
func history(t *testing.T) []portfolio.Event {
	t.Helper()
	names, err := fs.Glob(eventschema.Samples(), "*.json")
	if err != nil {
		t.Fatal(err)
	}
	var evs []portfolio.Event
	for _, name := range names {
		if f, _ := eventschema.ParseFileName(name); slices.Contains(eventschema.Derived, f.EventType) {
			continue
		}
		b, err := fs.ReadFile(eventschema.Samples(), name)
		if err != nil {
			t.Fatal(err)
		}
		e, err := portfolio.DecodeEvent(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		evs = append(evs, e)
	}
	slices.SortFunc(evs, func(x, y portfolio.Event) int { return int(x.Version - y.Version) })
	return evs
}

func records(evs []portfolio.Event) []rows.Record {
	out := make([]rows.Record, len(evs))
	for i := range evs {
		out[i].Event = evs[i]
	}
	return out
}

// stored is what the read models hold of one aggregate between batches.
type stored struct {
	checkpoint int64
	portfolio  rows.Portfolio
	active     []portfolio.Transaction
	positions  map[string]rows.Position
	totals     *rows.Totals
	targets    *portfolio.TargetAllocationSet
}

// project runs one batch as the read-model writer does, with src as the event
// store, and folds what it decided into st.
func project(t *testing.T, st *stored, src rows.EventReader, recs []rows.Record) (rows.BatchResult, *rows.Aggregate) {
	t.Helper()
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	b := rows.NewBatch(recs, idx, quiet, nil, nil)
	b.Reset()
	var a *rows.Aggregate
	for _, id := range b.IDs() {
		a = b.Aggregate(id)
		a.Checkpoint, a.Portfolio = st.checkpoint, st.portfolio
		a.Stored, a.StoredLoaded = slices.Clone(st.active), true
	}
	if err := b.Fill(context.Background(), src, 500); err != nil {
		t.Fatal(err)
	}
	b.Decide()
	b.Recompute()
	if a == nil || !a.Advanced {
		return b.Result(), a
	}
	st.checkpoint = a.Checkpoint
	if !a.PortfolioChanged {
		return b.Result(), a
	}
	st.portfolio = a.Portfolio
	voided := map[string]bool{}
	for _, v := range a.Voids {
		voided[v.ID] = true
	}
	st.active = slices.DeleteFunc(st.active, func(tx portfolio.Transaction) bool { return voided[tx.ID] })
	for _, r := range a.Recorded {
		if !voided[r.Tx.ID] {
			st.active = append(st.active, r.Tx)
		}
	}
	if st.positions == nil {
		st.positions = map[string]rows.Position{}
	}
	for _, p := range a.Positions {
		st.positions[p.Symbol] = p
	}
	for _, s := range a.Removed {
		delete(st.positions, s)
	}
	if a.Totals != nil {
		st.totals = a.Totals
	}
	if a.Targets != nil {
		st.targets = a.Targets
	}
	return b.Result(), a
}

func TestSampleHistoryInOneBatch(t *testing.T) {
	evs := history(t)
	var st stored
	r, a := project(t, &st, nil, records(evs))
	if len(r.Failures)+len(r.Quarantined) > 0 || r.Applied != len(evs) || r.Skipped != 0 || r.Portfolios != 1 {
		t.Fatalf("result %+v", r)
	}
	last := evs[len(evs)-1]
	if a.Checkpoint != last.Version || a.CheckpointTime != last.Timestamp || !a.Portfolio.Exists || a.Portfolio.Version != last.Version ||
		a.Portfolio.UserID != strings.ToLower(last.UserID) {
		t.Errorf("aggregate %+v", a)
	}
	var recorded, voids int
	for _, e := range evs {
		switch d := e.Data.(type) {
		case *portfolio.TransactionRecorded:
			recorded++
		case *portfolio.TransactionsImported:
			recorded += len(d.Transactions)
		case *portfolio.TransactionVoided:
			voids++
		case *portfolio.PortfolioDetailsChanged:
			if a.Portfolio.Name != d.Name {
				t.Errorf("name %q, want %q", a.Portfolio.Name, d.Name)
			}
		case *portfolio.AnalyticsSettingsChanged:
			if a.Portfolio.Benchmark != d.Benchmark || !a.Portfolio.MinTradeValue.Equal(d.MinTradeValue) {
				t.Errorf("settings %+v, want %+v", a.Portfolio, d)
			}
		case *portfolio.PortfolioArchived:
			if !a.Portfolio.Archived || a.Portfolio.ArchivedAt == nil || !a.Portfolio.ArchivedAt.Equal(e.Timestamp) {
				t.Errorf("archive %+v", a.Portfolio)
			}
		case *portfolio.TargetAllocationSet:
			if a.Targets != d || a.TargetsVersion != e.Version {
				t.Errorf("targets %+v at %d", a.Targets, a.TargetsVersion)
			}
		}
	}
	if len(a.Recorded) != recorded || len(a.Voids) != voids || a.Totals == nil || len(a.Positions) == 0 {
		t.Errorf("%d recorded (want %d), %d voids (want %d), totals %v, %d positions", len(a.Recorded), recorded, len(a.Voids), voids,
			a.Totals, len(a.Positions))
	}
}

// Every row's version says which event it reflects, whatever the batching: the
// history cut anywhere into two or more batches leaves the same rows.
func TestRowsDoNotDependOnBatching(t *testing.T) {
	evs := history(t)
	var whole stored
	project(t, &whole, nil, records(evs))
	want := fmt.Sprint(whole.portfolio, whole.totals, whole.positions, whole.targets, len(whole.active))
	for size := 1; size < len(evs); size++ {
		var st stored
		for start := 0; start < len(evs); start += size {
			if r, _ := project(t, &st, nil, records(evs[start:min(start+size, len(evs))])); len(r.Failures)+len(r.Quarantined) > 0 {
				t.Fatalf("batches of %d: %+v", size, r)
			}
		}
		if got := fmt.Sprint(st.portfolio, st.totals, st.positions, st.targets, len(st.active)); got != want {
			t.Errorf("batches of %d:\n%s\nwant\n%s", size, got, want)
		}
	}
}

// Against the checkpoint: a duplicate changes nothing, an event of an unknown
// type only moves the checkpoint, and a gap (no event store to fill it from)
// fails its event and every later one of the aggregate.
func TestDuplicatesUnknownTypesAndGaps(t *testing.T) {
	evs := history(t)
	var st stored
	project(t, &st, nil, records(evs[:3]))
	unknown := portfolio.Event{AggregateID: evs[0].AggregateID, Version: 4, EventType: "SomethingNewer", Timestamp: evs[3].Timestamp}
	recs := records([]portfolio.Event{evs[1], unknown, evs[5], evs[6]})
	r, a := project(t, &st, nil, recs)
	if r.Duplicates != 1 || r.Skipped != 1 || r.Applied != 1 || r.Gaps != 1 || !slices.Equal(r.Failed(), []int{2, 3}) {
		t.Fatalf("result %+v", r)
	}
	if !strings.HasPrefix(r.Failures[0].Reason, "gap: version 6 follows checkpoint 4") || a.Checkpoint != 4 || a.Portfolio.Version != 4 {
		t.Errorf("failures %+v, checkpoint %d", r.Failures, a.Checkpoint)
	}
}

// eventStore is an EventReader over a history, with corrupt versions.
type eventStore struct {
	evs     []portfolio.Event
	corrupt map[int64]bool
}

func (s eventStore) Events(_ context.Context, _ string, from, to int64) ([]portfolio.Event, error) {
	var out []portfolio.Event
	for _, e := range s.evs {
		if e.Version < from || e.Version > to {
			continue
		}
		if s.corrupt[e.Version] {
			return out, fmt.Errorf("%w: version %d", portfolio.ErrCorruptEvent, e.Version)
		}
		out = append(out, e)
	}
	return out, nil
}

// A gap is filled from the event store; a version the store cannot give either
// is quarantined, and the aggregate goes on after it.
func TestFillFromTheEventStore(t *testing.T) {
	evs := history(t)
	var st stored
	src := eventStore{evs: evs, corrupt: map[int64]bool{4: true}}
	recs := records([]portfolio.Event{evs[0], evs[1], evs[4]})
	recs = append(recs, rows.Record{Event: portfolio.Event{AggregateID: evs[5].AggregateID, Version: 6}, Undecodable: "stream: bad", SequenceNumber: "s6"})
	r, a := project(t, &st, src, recs)
	if r.FromStore != 2 || r.GapsFilled != 1 || r.Applied != 5 || len(r.Failures) != 0 || len(r.Quarantined) != 1 || a.Checkpoint != 6 {
		t.Fatalf("result %+v, checkpoint %d", r, a.Checkpoint)
	}
	if q := r.Quarantined[0]; q.Version != 4 || q.Index != -1 || !strings.HasPrefix(q.Reason, "event store: ") {
		t.Errorf("quarantined %+v", q)
	}
}

// An event the projection's rules refuse is quarantined: the checkpoint passes it.
func TestRefusedEventsAreQuarantined(t *testing.T) {
	evs := history(t)
	var st stored
	first := evs[1] // a transaction at version 1: no PortfolioCreated
	first.Version = 1
	r, a := project(t, &st, nil, records([]portfolio.Event{first}))
	if len(r.Quarantined) != 1 || !strings.Contains(r.Quarantined[0].Reason, "before PortfolioCreated") || a.Checkpoint != 1 || a.Portfolio.Exists {
		t.Fatalf("result %+v", r)
	}
	st = stored{}
	created := evs[0]
	created.UserID = "not-a-uuid"
	r, a = project(t, &st, nil, records([]portfolio.Event{created, evs[1]}))
	if len(r.Quarantined) != 2 || !strings.Contains(r.Quarantined[0].Reason, "is not a UUID") || a.Checkpoint != 2 || a.Portfolio.Exists {
		t.Fatalf("result %+v, checkpoint %d", r, a.Checkpoint)
	}
}
