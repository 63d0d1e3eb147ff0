package projection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/projection"
	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// The service's own rules, against a projector that fails what it is told to:
// records after a failed one of the same aggregate fail too, ignored records
// pass, a poison record naming its event goes to the projector, one naming none
// to the quarantine, transient errors are retried. The Postgres projector's side
// is in functions/projector's tests, through the stream adapter.

type fakeProjector struct {
	calls    int
	errs     []error         // returned by the first calls
	fail     map[string]bool // "aggregate/version" to fail
	got      []rows.Record
	recorded []rows.Failure
}

func (p *fakeProjector) ApplyRecords(_ context.Context, recs []rows.Record) (rows.BatchResult, error) {
	p.calls++
	if len(p.errs) > 0 {
		err := p.errs[0]
		p.errs = p.errs[1:]
		return rows.BatchResult{}, err
	}
	p.got = recs
	var r rows.BatchResult
	for i, rec := range recs {
		if p.fail[rec.Event.AggregateID+"/"+strconv.FormatInt(rec.Event.Version, 10)] {
			r.Failures = append(r.Failures, rows.Failure{Index: i, AggregateID: rec.Event.AggregateID, Version: rec.Event.Version, Reason: "gap"})
		}
	}
	return r, nil
}

func (p *fakeProjector) RecordFailures(_ context.Context, f []rows.Failure) error {
	p.recorded = append(p.recorded, f...)
	return nil
}

type memSink struct{ got []quarantine.Record }

func (s *memSink) Send(_ context.Context, recs []quarantine.Record) error {
	s.got = append(s.got, recs...)
	return nil
}

func ev(id string, v int64, typ string) portfolio.Event {
	return portfolio.Event{AggregateID: id, Version: v, EventType: typ, Timestamp: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestProjectFailsInAggregateOrder(t *testing.T) {
	p := &fakeProjector{fail: map[string]bool{"a/2": true}}
	sink := &memSink{}
	var metrics, logs bytes.Buffer
	svc := projection.New(p, projection.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics, Quarantine: sink})
	recs := []projection.Record{
		{ID: "s1", Event: ev("a", 1, portfolio.TypeTransactionRecorded)},
		{ID: "s2", Event: ev("a", 2, portfolio.TypeTransactionRecorded)},
		{ID: "s3", Event: ev("b", 1, portfolio.TypePortfolioCreated)},
		{ID: "s4", Event: ev("a", 3, portfolio.TypeTransactionRecorded)},
		{ID: "s5", Event: portfolio.Event{AggregateID: "a", Version: 1}, Ignored: "MODIFY"},
		{ID: "s6", Event: ev("b", 2, "SomethingNewer")},
		{ID: "s7", Event: portfolio.Event{AggregateID: "b", Version: 3, EventType: portfolio.TypeTransactionVoided}, Undecodable: "bad data", Image: []byte(`{"x":1}`)},
		{ID: "s8", Event: portfolio.Event{EventType: portfolio.TypeTransactionRecorded}, Undecodable: "no keys", Image: []byte(`{"y":2}`)},
	}
	failed, err := svc.Project(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"s2", "s4", "s5"}; !slices.Equal(failed, want) {
		t.Fatalf("failed %v, want %v (a/2 and every later record of a, the ignored one included)", failed, want)
	}
	if len(p.got) != 6 || p.got[5].Undecodable != "stream: bad data" || string(p.got[5].Image) != `{"x":1}` || p.got[5].SequenceNumber != "s7" {
		t.Fatalf("projector got %+v", p.got)
	}
	if len(sink.got) != 1 || sink.got[0].SequenceNumber != "s8" || sink.got[0].Reason != "no keys" || sink.got[0].Consumer != "projector" ||
		sink.got[0].EventType != portfolio.TypeTransactionRecorded {
		t.Fatalf("quarantined %+v", sink.got)
	}
	if len(p.recorded) != 3 || p.recorded[1].Reason != "an earlier record of the aggregate failed" || p.recorded[0].Reason != "gap" {
		t.Fatalf("recorded failures %+v", p.recorded)
	}
	for _, want := range []string{`"StreamRecords":8`, `"StreamRecordsIgnored":1`, `"StreamRecordsPoison":2`, `"StreamRecordsUnknownType":1`,
		`"StreamRecordsFailed":3`, `"StreamRecordsQuarantined":1`, `"TransientRetries":0`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics.String())
		}
	}
	// The lag of each decoded event (s1-s4, s6): from its timestamp to now.
	var line struct{ ProjectionLag []float64 }
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil || len(line.ProjectionLag) != 5 ||
		line.ProjectionLag[0] < float64(time.Since(recs[0].Event.Timestamp).Milliseconds())-60_000 {
		t.Errorf("projection lag %v (%v):\n%s", line.ProjectionLag, err, metrics.String())
	}
	if !strings.Contains(logs.String(), "poison stream record") || !strings.Contains(logs.String(), "ignoring a non-INSERT stream record") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// Without a quarantine, a poison record naming no event fails (the stream's
// retries end in its on-failure destination).
func TestProjectWithoutQuarantineFailsNamelessPoison(t *testing.T) {
	p := &fakeProjector{}
	svc := projection.New(p, projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard})
	failed, err := svc.Project(context.Background(), []projection.Record{
		{ID: "s1", Undecodable: "no image"},
		{ID: "s2", Event: ev("a", 1, portfolio.TypePortfolioCreated)},
	})
	if err != nil || !slices.Equal(failed, []string{"s1"}) {
		t.Fatalf("failed %v, err %v", failed, err)
	}
}

// noRetry's first pause already ends past its budget.
var noRetry = retry.Policy{First: 10 * time.Millisecond, For: time.Millisecond}

// A transient error is retried within the batch; one that outlasts the retries
// is returned, and nothing is reported failed.
func TestProjectRetriesTransientErrors(t *testing.T) {
	down := errors.New("connection refused")
	p := &fakeProjector{errs: []error{down, down}}
	var metrics bytes.Buffer
	svc := projection.New(p, projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: &metrics,
		Retry: retry.Policy{First: time.Microsecond, Max: time.Microsecond, For: time.Minute}})
	recs := []projection.Record{{ID: "s1", Event: ev("a", 1, portfolio.TypePortfolioCreated)}}
	if failed, err := svc.Project(context.Background(), recs); err != nil || len(failed) > 0 {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	if p.calls != 3 || !strings.Contains(metrics.String(), `"TransientRetries":2`) {
		t.Fatalf("%d calls, metrics %s", p.calls, metrics.String())
	}

	p = &fakeProjector{errs: []error{down, down, down}}
	svc = projection.New(p, projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard, Retry: noRetry})
	if _, err := svc.Project(context.Background(), recs); !errors.Is(err, down) {
		t.Fatalf("err %v, want the projector's", err)
	}
}

// A projector that cannot be built fails the batch, and is built again on the
// next.
func TestProjectBuildsItsProjectorLazily(t *testing.T) {
	builds := 0
	p := &fakeProjector{}
	svc := projection.NewLazy(func(context.Context) (projection.Projector, error) {
		builds++
		if builds == 1 {
			return nil, errors.New("secret unavailable")
		}
		return p, nil
	}, projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard, Retry: noRetry})
	recs := []projection.Record{{ID: "s1", Event: ev("a", 1, portfolio.TypePortfolioCreated)}}
	if _, err := svc.Project(context.Background(), recs); err == nil || !strings.Contains(err.Error(), "secret unavailable") {
		t.Fatalf("err %v", err)
	}
	for range 2 {
		if _, err := svc.Project(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	if builds != 2 || p.calls != 2 {
		t.Fatalf("%d builds, %d calls", builds, p.calls)
	}
}
