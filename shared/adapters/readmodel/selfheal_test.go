package readmodel_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

// rebuilt is what a full rebuild from the store gives.
func rebuilt(t *testing.T, src readmodel.EventSource) *pgxpool.Pool {
	t.Helper()
	pool, _ := rmtest.DB(t)
	if _, err := readmodel.Rebuild(context.Background(), pool, src, readmodel.RebuildOptions{BatchSize: 50}); err != nil {
		t.Fatal(err)
	}
	return pool
}

func records(events []portfolio.Event) []readmodel.Record {
	out := make([]readmodel.Record, len(events))
	for i := range events {
		out[i].Event = events[i]
	}
	return out
}

// The stream delivers v1 and v3 of an aggregate (v2 is only in the event store),
// then loses six versions for good; a record whose image did not decode has an
// intact copy in the store. Every gap is filled from the store in the batch that
// meets it, and the read models equal a full rebuild.
func TestGapsFilledFromTheEventStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := rmtest.NewStore(t)
	a := rmtest.Realistic(t, "gap-a", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "gap-b", rmtest.UserB, portfolio.AverageCost)
	store.Append(a.Events...)
	store.Append(b.Events...)
	pool, _ := rmtest.DB(t)
	var metrics bytes.Buffer
	proj := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: &metrics, Source: store.Source})

	res, err := proj.ApplyBatch(ctx, append([]portfolio.Event{a.Events[0], a.Events[2]}, b.Events[:5]...))
	if err != nil || len(res.Failures) > 0 || res.GapsFilled != 1 || res.FromStore != 1 || res.Applied != 8 {
		t.Fatalf("batch 1: %+v %v", res, err)
	}
	// pa 4–9 never arrive; pb 6 arrives unreadable.
	recs := records(append(slices.Clone(a.Events[9:]), b.Events[5:]...))
	bad := len(a.Events) - 9
	recs[bad] = readmodel.Record{Event: portfolio.Event{AggregateID: "gap-b", Version: 6}, Undecodable: "stream record image: attribute data is binary",
		Image: []byte(`{"aggregateId":{"S":"gap-b"}}`), SequenceNumber: "6"}
	res, err = proj.ApplyRecords(ctx, recs)
	if err != nil || len(res.Failures) > 0 || len(res.Quarantined) > 0 || res.GapsFilled != 2 || res.FromStore != 7 {
		t.Fatalf("batch 2: %+v %v", res, err)
	}
	if d1, d2 := rmtest.Dump(t, rebuilt(t, store.Source)), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("gap-filled projection differs from a rebuild:\n%s", diff(d1, d2))
	}
	for _, want := range []string{`"GapsFilled":2`, `"EventsFromStore":7`, `"EventsQuarantined":0`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics.String())
		}
	}
}

// An aggregate 150 versions behind catches up MaxFill versions a transaction, in
// one call; when the invocation's time runs out it stops between transactions,
// keeps what it did, and the retry finishes.
func TestLongGapCatchesUpInSteps(t *testing.T) {
	t.Parallel()
	store := rmtest.NewStore(t)
	h := rmtest.NewHistory(t, "long", rmtest.UserA, portfolio.FIFO)
	h.Random(rand.New(rand.NewPCG(3, 4)), 150, []string{"AAA", "BBB", "CCC"}, rmtest.D("2023-01-02"))
	store.Append(h.Events...)
	last := h.Events[len(h.Events)-1:]
	pool, _ := rmtest.DB(t)

	// A deadline already within the reserve: the first transaction runs, no other.
	hurried := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard, Source: store.Source, MaxFill: 7, Reserve: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := hurried.ApplyBatch(ctx, last)
	if err != nil || res.Transactions != 1 || res.FromStore != 7 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Reason, "catching up") {
		t.Fatalf("hurried: %+v %v", res, err)
	}
	proj := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard, Source: store.Source, MaxFill: 7})
	res, err = proj.ApplyBatch(context.Background(), last)
	if want := (len(h.Events) - 8 + 6) / 7; err != nil || len(res.Failures) > 0 || res.Transactions != want || res.FromStore != len(h.Events)-8 {
		t.Fatalf("catch-up: %d transactions (want %d), %+v %v", res.Transactions, want, res, err)
	}
	if d1, d2 := rmtest.Dump(t, rebuilt(t, store.Source)), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("caught-up projection differs from a rebuild:\n%s", diff(d1, d2))
	}
}

// failingSink fails its first n sends: the failure destination unreachable.
type failingSink struct {
	next  quarantine.Sink
	fails atomic.Int32
}

func (s *failingSink) Send(ctx context.Context, recs []quarantine.Record) error {
	if s.fails.Add(-1) >= 0 {
		return errors.New("injected: failure destination unreachable")
	}
	return s.next.Send(ctx, recs)
}

// An event corrupt in the stream and in the event store alike is quarantined:
// recorded with its image in projection_failures and sent to the failure
// destination (before the transaction commits: a send that fails applies
// nothing), and the aggregate's later events apply.
func TestEventUnreadableEverywhereIsQuarantined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := rmtest.NewStore(t)
	h := rmtest.Realistic(t, "pq", rmtest.UserA, portfolio.FIFO)
	store.Append(h.Events[:2]...)
	corrupt := h.Events[2]
	image := store.PutRaw(corrupt, map[string]string{eventstore.AttrData: `{"transactionId": "x", "type": "BUY"`})
	store.Append(h.Events[3:]...)
	pool, _ := rmtest.DB(t)
	path := filepath.Join(t.TempDir(), "projector.jsonl")
	sink := &failingSink{next: quarantine.NewFileSink(path)}
	sink.fails.Store(1)
	proj := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard, Source: store.Source, Quarantine: sink})

	recs := records(h.Events)
	recs[2] = readmodel.Record{Event: portfolio.Event{AggregateID: "pq", Version: 3, EventType: corrupt.EventType, EventID: corrupt.EventID},
		Undecodable: "stream: corrupt event: TransactionRecorded data: unexpected EOF", Image: image, SequenceNumber: "4000000000000000003"}
	if _, err := proj.ApplyRecords(ctx, recs); err == nil {
		t.Fatal("applied although the quarantine could not be sent")
	}
	var n int
	if err := pool.QueryRow(ctx, "select count(*) from projection_checkpoints").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d checkpoints after a failed send (err %v)", n, err)
	}
	res, err := proj.ApplyRecords(ctx, recs)
	if err != nil || len(res.Failures) > 0 || len(res.Quarantined) != 1 || res.Applied != len(h.Events)-1 {
		t.Fatalf("%+v %v", res, err)
	}
	if q := res.Quarantined[0]; q.Index != 2 || q.Version != 3 || q.EventID != corrupt.EventID || !strings.HasPrefix(q.Reason, "stream: ") ||
		!strings.Contains(q.Reason, "; event store: ") || !bytes.Equal(q.Image, image) {
		t.Errorf("quarantined %+v", q)
	}
	var kind, eventID, storedImage string
	var cp int64
	if err := pool.QueryRow(ctx, `select f.kind, f.event_id, f.image, c.version from projection_failures f
		join projection_checkpoints c on c.aggregate_id = f.aggregate_id where f.aggregate_id = 'pq' and f.version = 3`).
		Scan(&kind, &eventID, &storedImage, &cp); err != nil || kind != "quarantined" || eventID != corrupt.EventID || storedImage != string(image) || cp != h.P.Version() {
		t.Fatalf("row %s %s %s, checkpoint %d (err %v)", kind, eventID, storedImage, cp, err)
	}
	// Delivered again: duplicates, nothing quarantined or sent twice.
	if res, err := proj.ApplyRecords(ctx, recs); err != nil || len(res.Quarantined) > 0 || res.Duplicates != len(recs) {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sent, _, err := quarantine.Read(f)
	if err != nil || len(sent) != 1 {
		t.Fatalf("sent %+v (err %v)", sent, err)
	}
	if r := sent[0]; r.Consumer != "projector" || r.AggregateID != "pq" || r.Version != 3 || r.EventType != portfolio.TypeTransactionRecorded ||
		r.SequenceNumber != "4000000000000000003" || !bytes.Equal(r.Image, image) {
		t.Errorf("sent %+v", r)
	}
	// The rest of the history applied, as a rebuild from the store applies it,
	// quarantining the same version.
	want := rebuilt(t, store.Source)
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("projection differs from a rebuild:\n%s", diff(d1, d2))
	}
	for _, p := range []*pgxpool.Pool{want, pool} {
		var q string
		if err := p.QueryRow(ctx, "select string_agg(aggregate_id || '/' || version || '/' || kind, ',' order by version) from projection_failures").Scan(&q); err != nil ||
			q != "pq/3/quarantined,pq/6/left_out" { // the sell of shares the quarantined buy bought
			t.Errorf("projection_failures %q (err %v)", q, err)
		}
	}
}

// A legacy transaction whose ID is too long for the primary key's index fails
// any batch it is in with a program-limit error, which no retry mends. The
// projector isolates it, quarantines that one event, and applies the rest: the
// same portfolio's later trade and another user's portfolio.
func TestDataErrorIsolatedAndQuarantined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	h := rmtest.NewHistory(t, "long-id", rmtest.UserA, portfolio.FIFO)
	h.Tx(rmtest.Buy("2024-01-02", "AAA", "10", "100", ""))
	v := h.Legacy(rmtest.Buy("2024-01-03", "AAA", "1", "100", ""))
	raw := make([]byte, 6000)
	_, _ = crand.Read(raw)
	h.Events[len(h.Events)-1].Data.(*portfolio.TransactionRecorded).ID = hex.EncodeToString(raw)
	h.Legacy(rmtest.Buy("2024-01-04", "AAA", "2", "100", ""))
	other := rmtest.Realistic(t, "other", rmtest.UserB, portfolio.FIFO)
	batch := append(slices.Clone(other.Events[:10]), h.Events...)
	batch = append(batch, other.Events[10:]...)

	res, err := rmtest.NewProjector(pool).ApplyBatch(ctx, batch)
	if err != nil || len(res.Failures) > 0 || len(res.Quarantined) != 1 || res.Transactions < 3 {
		t.Fatalf("%+v %v", res, err)
	}
	if q := res.Quarantined[0]; q.AggregateID != "long-id" || q.Version != v || q.Index != 10+int(v)-1 || !strings.Contains(q.Reason, "54000") {
		t.Errorf("quarantined %+v", q)
	}
	var qty string
	if err := pool.QueryRow(ctx, "select quantity::text from positions where portfolio_id = 'long-id' and symbol = 'AAA'").Scan(&qty); err != nil || qty != "12" {
		t.Errorf("AAA quantity %s (err %v), want 12", qty, err)
	}
	expectLotEngine(t, pool, other)
}

// Reproject (tracker replay --failures) re-projects exactly the named
// aggregates from the store: once the corrupt item is repaired, the quarantined
// version applies and the read models equal a rebuild; twice gives the same; the
// other aggregates are not touched.
func TestReprojectNamedAggregates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := rmtest.NewStore(t)
	a := rmtest.Realistic(t, "rep-a", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "rep-b", rmtest.UserB, portfolio.FIFO)
	store.Append(a.Events[:4]...)
	store.PutRaw(a.Events[4], map[string]string{eventstore.AttrData: `not json`})
	store.Append(a.Events[5:]...)
	store.Append(b.Events...)
	pool, _ := rmtest.DB(t)
	if _, err := readmodel.Rebuild(ctx, pool, store.Source, readmodel.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	// pb's rows are marked: a re-projection of rep-a alone must leave them.
	if _, err := pool.Exec(ctx, "update portfolios set name = 'untouched' where id = 'rep-b'"); err != nil {
		t.Fatal(err)
	}

	store.PutRaw(a.Events[4], nil) // repaired
	for range 2 {
		st, err := readmodel.Reproject(ctx, pool, store.Source, []string{"rep-a", "rep-a"}, readmodel.RebuildOptions{PageSize: 6})
		if err != nil || st.Aggregates != 1 || st.Events != len(a.Events) || len(st.Quarantined) != 0 {
			t.Fatalf("%+v %v", st, err)
		}
	}
	var name string
	if err := pool.QueryRow(ctx, "select name from portfolios where id = 'rep-b'").Scan(&name); err != nil || name != "untouched" {
		t.Fatalf("pb's name %q (err %v): re-projecting pa touched pb", name, err)
	}
	if _, err := pool.Exec(ctx, "update portfolios set name = $1 where id = 'rep-b'", b.P.Name()); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := rmtest.Dump(t, rebuilt(t, store.Source)), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("re-projection differs from a rebuild:\n%s", diff(d1, d2))
	}
	var n int
	if err := pool.QueryRow(ctx, "select count(*) from projection_failures").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d projection_failures rows left (err %v)", n, err)
	}
	st, err := readmodel.Reproject(ctx, pool, store.Source, []string{"nowhere"}, readmodel.RebuildOptions{})
	if err == nil || len(st.Failures) != 1 {
		t.Errorf("an aggregate not in the store: %+v %v", st, err)
	}
}
