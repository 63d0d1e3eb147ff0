package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/projection"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// The stream loses a record, carries one whose image does not decode (corrupt in
// the event store too), and one that names no aggregate at all. Nothing fails:
// the lost record is read from the store, the corrupt one is quarantined by the
// projector and the nameless one by the handler, both sent to the failure
// destination with their images, and the read models equal a rebuild.
func TestHandlerHealsAndQuarantines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := rmtest.NewStore(t)
	a := rmtest.Realistic(t, "heal-a", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "heal-b", rmtest.UserB, portfolio.AverageCost)
	store.Append(a.Events...)
	store.Append(b.Events[:5]...)
	corruptData := `{"transactionId": "x", "type": "SELL"`
	store.PutRaw(b.Events[5], map[string]string{eventstore.AttrData: corruptData})
	store.Append(b.Events[6:]...)

	pool, _ := rmtest.DB(t)
	path := filepath.Join(t.TempDir(), "failures", "projector.jsonl")
	sink := quarantine.NewFileSink(path)
	proj := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard, Source: store.Source, Quarantine: sink})
	var metrics bytes.Buffer
	h := handler{projection.New(proj, projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: &metrics, Quarantine: sink})}

	s := &stream{t: t}
	for i, e := range a.Events {
		if i != 2 { // lost
			s.event(e)
		}
	}
	for i, e := range b.Events {
		if i == 5 {
			s.add("INSERT", encode(t, e), func(m map[string]events.DynamoDBAttributeValue) {
				m[eventstore.AttrData] = events.NewStringAttribute(corruptData)
			})
			continue
		}
		s.event(e)
	}
	nameless := s.add("INSERT", encode(t, a.Events[1]), func(m map[string]events.DynamoDBAttributeValue) {
		delete(m, eventstore.AttrAggregateID)
	})
	s.rec[len(s.rec)-1].Change.Keys = nil
	resp, err := h.Handle(ctx, s.take())
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("failures %v, err %v", failures(resp), err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sent, _, err := quarantine.Read(f)
	if err != nil || len(sent) != 2 {
		t.Fatalf("sent %+v (err %v)", sent, err)
	}
	slices.SortFunc(sent, func(x, y quarantine.Record) int { return strings.Compare(x.AggregateID, y.AggregateID) })
	if r := sent[0]; r.AggregateID != "" || r.SequenceNumber != nameless || !strings.Contains(string(r.Image), a.Events[1].EventID) {
		t.Errorf("nameless record sent as %+v", r)
	}
	if r := sent[1]; r.AggregateID != "heal-b" || r.Version != 6 || r.EventID != b.Events[5].EventID || r.EventType != portfolio.TypeTransactionRecorded ||
		!strings.Contains(string(r.Image), "SELL") || !strings.HasPrefix(r.Reason, "stream: ") {
		t.Errorf("corrupt record sent as %+v", r)
	}
	if d1, d2 := rmtest.Dump(t, rebuilt(t, store.Source)), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("stream projection differs from a rebuild:\n%s\n----\n%s", d1, d2)
	}
	var kinds string
	if err := pool.QueryRow(ctx, "select string_agg(aggregate_id || '/' || version || '/' || kind, ',' order by aggregate_id, version) from projection_failures where kind = 'quarantined'").
		Scan(&kinds); err != nil || kinds != "heal-b/6/quarantined" {
		t.Errorf("quarantined rows %q (err %v)", kinds, err)
	}
	for _, want := range []string{`"StreamRecordsQuarantined":2`, `"StreamRecordsPoison":2`, `"StreamRecordsFailed":0`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics.String())
		}
	}
}

func rebuilt(t *testing.T, src readmodel.EventSource) *pgxpool.Pool {
	t.Helper()
	pool, _ := rmtest.DB(t)
	if _, err := readmodel.Rebuild(context.Background(), pool, src, readmodel.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	return pool
}

// PostgreSQL goes away in the middle of a batch (the connection is cut while the
// projector's transaction writes) and refuses connections for a while. The
// handler retries within the invocation, with backoff, and the batch applies
// whole: no record fails, none is lost or applied twice.
func TestHandlerRidesOutADatabaseOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct, dsn := rmtest.DB(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewCutProxy(t, u.Host)
	u.Host = proxy.Addr()
	pool, err := readmodel.Open(ctx, u.String(), readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var metrics bytes.Buffer
	h := handler{projection.New(rmtest.NewProjector(pool), projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: &metrics, Retry: retry.Policy{First: 20 * time.Millisecond, Max: 200 * time.Millisecond, For: time.Minute}})}
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.AverageCost)
	s := &stream{t: t}
	for _, e := range append(slices.Clone(a.Events[:8]), b.Events[:8]...) {
		s.event(e)
	}
	if resp, err := h.Handle(ctx, s.take()); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("batch 1: %v %v", failures(resp), err)
	}

	proxy.CutOn("insert into projection_checkpoints", 3)
	for _, e := range append(slices.Clone(a.Events[6:]), b.Events[6:]...) { // two of each again: duplicates
		s.event(e)
	}
	resp, err := h.Handle(ctx, s.take())
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("batch 2: %v %v", failures(resp), err)
	}
	cut, refused := proxy.Outcome()
	if !cut || refused != 3 {
		t.Fatalf("the outage did not happen: cut %v, %d connections refused", cut, refused)
	}
	lines := strings.Split(strings.TrimSpace(metrics.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["TransientRetries"].(float64) < 2 {
		t.Errorf("metrics %s (%v): want the retries counted", lines[len(lines)-1], err)
	}

	want, _ := rmtest.DB(t)
	if failed, err := rmtest.NewProjector(want).Apply(ctx, append(slices.Clone(a.Events), b.Events...)); err != nil || len(failed) > 0 {
		t.Fatal(failed, err)
	}
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, direct); d1 != d2 {
		t.Fatalf("after the outage the read models differ from a direct projection:\n%s\n----\n%s", d1, d2)
	}
}
