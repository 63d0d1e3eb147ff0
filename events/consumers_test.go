package eventschema_test

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"testing"

	eventschema "github.com/portfoliotracker/tracker/events"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestEverySampleThroughEveryConsumer is the one test an event type must pass
// everywhere (docs/architecture.md §10, "Adding an event type"): every type in
// portfolio.EventTypes has a schema and a sample, and every sample has a type of
// that list (or eventschema.Derived), decodes in the domain and through the
// event store's item encoding, is applied by the aggregate, survives a snapshot
// round trip, and is handled by the projection (package rows) — by a case of its
// own: an event type the projection does not handle is quarantined
// (rows.ErrUnhandledType) or skipped as unknown, and either fails here.
func TestEverySampleThroughEveryConsumer(t *testing.T) {
	v := newValidator(t)
	byType := map[string][]string{}
	var evs []portfolio.Event
	for _, name := range fileNames(t, eventschema.Samples()) {
		f, _ := eventschema.ParseFileName(name)
		if slices.Contains(eventschema.Derived, f.EventType) {
			continue // kept in read models only: no aggregate, no projection
		}
		byType[f.EventType] = append(byType[f.EventType], name)
		if !slices.Contains(portfolio.EventTypes, f.EventType) {
			t.Errorf("samples/%s: %s is not in portfolio.EventTypes", name, f.EventType)
			continue
		}
		b := readFile(t, eventschema.Samples(), name)
		if err := v.Validate(b); err != nil {
			t.Errorf("samples/%s: schema: %v", name, err)
		}
		e, err := portfolio.DecodeEvent(b)
		if err != nil {
			t.Errorf("samples/%s: the domain does not decode it: %v", name, err)
			continue
		}
		it, err := eventstore.EncodeItem(&e)
		if err == nil {
			_, err = eventstore.DecodeItem(it)
		}
		if err != nil {
			t.Errorf("samples/%s: the event store's item encoding: %v", name, err)
		}
		evs = append(evs, e)
	}
	for _, typ := range portfolio.EventTypes {
		if len(byType[typ]) == 0 {
			t.Errorf("%s: no sample in events/samples", typ)
		}
		if _, ok := v.Schema(typ, portfolio.SchemaVersion); !ok {
			t.Errorf("%s: no schema %s", typ, eventschema.SchemaFile(typ, portfolio.SchemaVersion))
		}
	}
	if t.Failed() {
		return
	}
	slices.SortFunc(evs, func(x, y portfolio.Event) int { return int(x.Version - y.Version) })
	checkAggregateAndSnapshots(t, evs)
	checkProjection(t, evs)
}

// checkAggregateAndSnapshots folds the history, and at every version restores
// the aggregate from its snapshot and folds the rest onto it: each event must
// apply to a restored aggregate and end in the state of the full fold.
func checkAggregateAndSnapshots(t *testing.T, evs []portfolio.Event) {
	t.Helper()
	full, err := portfolio.Fold(nil, evs)
	if err != nil {
		t.Fatalf("the aggregate does not fold the samples: %v", err)
	}
	want, err := full.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(evs); i++ {
		p, err := portfolio.Fold(nil, evs[:i])
		if err != nil {
			t.Fatal(err)
		}
		snap, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored, err := portfolio.Restore(snap)
		if err != nil {
			t.Fatalf("version %d: restore: %v", evs[i-1].Version, err)
		}
		if again, _ := restored.Snapshot(); !bytes.Equal(again, snap) {
			t.Errorf("version %d (%s): the snapshot does not round-trip:\n%s\n%s", evs[i-1].Version, evs[i-1].EventType, snap, again)
		}
		for _, e := range evs[i:] {
			if err := restored.Apply(e); err != nil {
				t.Fatalf("%s at version %d, folded onto the snapshot at version %d: %v", e.EventType, e.Version, evs[i-1].Version, err)
			}
		}
		if got, _ := restored.Snapshot(); !bytes.Equal(got, want) {
			t.Errorf("from the snapshot at version %d (%s) the fold ends elsewhere:\n%s\nwant\n%s", evs[i-1].Version, evs[i-1].EventType, got, want)
		}
	}
}

// checkProjection projects the history one event a batch, carrying the
// aggregate's rows from one to the next as the read models do.
func checkProjection(t *testing.T, evs []portfolio.Event) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var prev rows.Aggregate
	var active []portfolio.Transaction
	for _, e := range evs {
		b := rows.NewBatch([]rows.Record{{Event: e}}, []int{0}, log, nil, nil)
		b.Reset()
		a := b.Aggregate(e.AggregateID)
		a.Checkpoint, a.Portfolio, a.Stored, a.StoredLoaded = prev.Checkpoint, prev.Portfolio, slices.Clone(active), true
		b.Decide()
		b.Recompute()
		r := b.Result()
		if r.Applied != 1 || r.Skipped != 0 || len(r.Quarantined)+len(r.Failures) > 0 {
			t.Fatalf("%s at version %d: the projection does not handle it: %+v", e.EventType, e.Version, r)
		}
		voided := map[string]bool{}
		for _, v := range a.Voids {
			voided[v.ID] = true
		}
		active = slices.DeleteFunc(active, func(tx portfolio.Transaction) bool { return voided[tx.ID] })
		for _, rec := range a.Recorded {
			active = append(active, rec.Tx)
		}
		prev = *a
	}
}
