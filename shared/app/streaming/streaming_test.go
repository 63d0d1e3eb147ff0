package streaming_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/app/streaming/streamingtest"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// The memory lease passes the lease contract suite (dynamolease/leasetest)
// that DynamoDB's passes; the other ports are fakes that record.

var t0 = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

// stream is a trade stream whose trades the test emits; it records the
// (un)subscriptions in order.
type stream struct {
	mu      sync.Mutex
	calls   []string // "+AAPL", "-MSFT"
	emits   chan func(market.Quote) error
	stopped chan struct{}
	fail    error // Run returns it at once
}

func newStream() *stream {
	return &stream{emits: make(chan func(market.Quote) error, 1), stopped: make(chan struct{})}
}

func (s *stream) Subscribe(_ context.Context, symbols ...string) error { return s.record("+", symbols) }
func (s *stream) Unsubscribe(_ context.Context, symbols ...string) error {
	return s.record("-", symbols)
}

func (s *stream) record(sign string, symbols []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sym := range symbols {
		s.calls = append(s.calls, sign+sym)
	}
	return nil
}

func (s *stream) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *stream) Run(ctx context.Context, emit func(market.Quote) error) error {
	defer close(s.stopped)
	if s.fail != nil {
		return s.fail
	}
	s.emits <- emit
	<-ctx.Done()
	return ctx.Err()
}

// emitter waits for Run and returns its emit.
func (s *stream) emitter(t *testing.T) func(market.Quote) error {
	t.Helper()
	select {
	case emit := <-s.emits:
		return emit
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not run")
		return nil
	}
}

type watchList struct {
	mu      sync.Mutex
	symbols []string
	err     error
}

func (w *watchList) Set(symbols ...string) {
	w.mu.Lock()
	w.symbols = symbols
	w.mu.Unlock()
}

func (w *watchList) Symbols(context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.symbols), w.err
}

type publisher struct {
	mu    sync.Mutex
	calls [][]pricing.MarketDataUpdated
}

func (p *publisher) Publish(_ context.Context, records []ingest.Record) (ingest.PublishResult, error) {
	var call []pricing.MarketDataUpdated
	for _, r := range records {
		e, err := pricing.Decode(r.Data)
		if err != nil || r.PartitionKey != e.Symbol {
			return ingest.PublishResult{}, errors.New("not a MarketDataUpdated record of its partition key")
		}
		call = append(call, e)
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
	return ingest.PublishResult{Published: len(records), Calls: 1}, nil
}

func (p *publisher) Calls() [][]pricing.MarketDataUpdated {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

type fixture struct {
	clock      *streamingtest.Clock
	lease      *dynamolease.Memory
	watch      *watchList
	str        *stream
	pub        *publisher
	maxSymbols int // 0: the default
	svc        *streaming.Service
}

func newFixture(maxSymbols int, symbols ...string) *fixture {
	f := &fixture{clock: streamingtest.NewClock(t0), watch: &watchList{symbols: symbols}, str: newStream(), pub: &publisher{}, maxSymbols: maxSymbols}
	f.lease = dynamolease.NewMemory(f.clock.Now)
	f.svc = f.service(f.lease)
	return f
}

// service is a service on the fixture's fakes with lease as its lease.
func (f *fixture) service(lease streaming.Lease) *streaming.Service {
	return streaming.New(streaming.Config{Lease: lease, Watch: f.watch, Stream: f.str, Updates: f.pub, Clock: f.clock, MaxSymbols: f.maxSymbols})
}

type result struct {
	out streaming.Output
	err error
}

// start runs an invocation that streams until t0+10 min.
func (f *fixture) start(svc *streaming.Service, holder string) chan result {
	done := make(chan result, 1)
	go func() {
		out, err := svc.Run(context.Background(), streaming.Input{Holder: holder, Until: t0.Add(10 * time.Minute)})
		done <- result{out, err}
	}()
	return done
}

func wait(t *testing.T, done chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation did not return")
		return result{}
	}
}

// eventually waits for what a tick the loop has taken does (Tick returns
// once the loop has the tick, not once it has acted on it).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func trade(sym, price, volume string, at time.Time) market.Quote {
	return market.Quote{Symbol: sym, Price: decimal.RequireFromString(price), Volume: decimal.RequireFromString(volume),
		Timestamp: at.UTC(), Source: "finnhub"}
}

func mustEmit(t *testing.T, emit func(market.Quote) error, quotes ...market.Quote) {
	t.Helper()
	for _, q := range quotes {
		if err := emit(q); err != nil {
			t.Fatal(err)
		}
	}
}

func describe(e pricing.MarketDataUpdated) string {
	return e.Symbol + " " + e.Price.String() + " x" + e.Volume.String() + " @" + e.Timestamp.Format("15:04:05.000") + " " + e.Source
}

// Trades are coalesced to one update per symbol per interval, the last trade
// (by trade time) with the interval's volume, published in one call per
// interval as records the prices consumer decodes; at Until the stream stops
// and the lease is released.
func TestCoalescesTradesPerInterval(t *testing.T) {
	f := newFixture(0, "AAPL", "MSFT")
	done := f.start(f.svc, "inv-1")
	emit := f.str.emitter(t)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	mustEmit(t, emit,
		trade("AAPL", "190.10", "10", ms(100)),
		trade("MSFT", "410.5", "0.5", ms(150)),
		trade("AAPL", "190.30", "5", ms(300)),
		trade("AAPL", "190.20", "1", ms(200)), // a late arrival: its volume counts, its price does not
	)
	f.clock.Tick(t, t0.Add(time.Second))
	eventually(t, "the first interval published", func() bool { return len(f.pub.Calls()) == 1 })
	mustEmit(t, emit, trade("AAPL", "190.40", "2", ms(1200)))
	f.clock.Tick(t, t0.Add(2*time.Second))
	f.clock.Tick(t, t0.Add(3*time.Second)) // nothing heard: nothing published
	f.clock.Tick(t, t0.Add(10*time.Minute))
	r := wait(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got [][]string
	for _, call := range f.pub.Calls() {
		var c []string
		for _, e := range call {
			c = append(c, describe(e))
		}
		got = append(got, c)
	}
	want := [][]string{
		{"AAPL 190.3 x16 @14:30:00.300 finnhub", "MSFT 410.5 x0.5 @14:30:00.150 finnhub"},
		{"AAPL 190.4 x2 @14:30:01.200 finnhub"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("published %q, want %q", got, want)
	}
	if o := r.out; !o.Streamed || o.Trades != 5 || o.Published != 3 || o.Symbols != 2 || o.LostLease {
		t.Fatalf("%+v", o)
	}
	select {
	case <-f.str.stopped:
	default:
		t.Fatal("the stream still runs")
	}
	if ok, err := f.lease.Acquire(context.Background(), streaming.DefaultLeaseName, "next", time.Minute); err != nil || !ok {
		t.Fatalf("the lease was not released: %v %v", ok, err)
	}
}

// Two invocations at once: one streams, the other finds the lease held and
// returns at once, without touching the stream; after the first ends the next
// takes over.
func TestOneInvocationStreams(t *testing.T) {
	f := newFixture(0, "AAPL")
	first := f.start(f.svc, "inv-1")
	f.str.emitter(t)
	r := wait(t, f.start(f.svc, "inv-2"))
	if r.err != nil || r.out.Streamed {
		t.Fatalf("second invocation: %+v %v", r.out, r.err)
	}
	if calls := f.str.Calls(); !slices.Equal(calls, []string{"+AAPL"}) {
		t.Fatalf("stream calls %v: the second invocation touched the stream", calls)
	}
	f.clock.Tick(t, t0.Add(10*time.Minute))
	if r := wait(t, first); r.err != nil || !r.out.Streamed {
		t.Fatalf("first invocation: %+v %v", r.out, r.err)
	}
	f.str = newStream()
	third := f.start(f.service(f.lease), "inv-3")
	f.str.emitter(t)
	f.clock.Tick(t, t0.Add(10*time.Minute))
	if r := wait(t, third); r.err != nil || !r.out.Streamed {
		t.Fatalf("third invocation: %+v %v", r.out, r.err)
	}
}

// The holder renews its lease well before it expires: ticking through twice
// the lease's length, nobody else can take it.
func TestRenewsBeforeExpiry(t *testing.T) {
	f := newFixture(0, "AAPL")
	done := f.start(f.svc, "inv-1")
	f.str.emitter(t)
	for s := 1; s <= 120; s++ {
		f.clock.Tick(t, t0.Add(time.Duration(s)*time.Second))
		if ok, err := f.lease.Acquire(context.Background(), streaming.DefaultLeaseName, "other", time.Minute); err != nil || ok {
			t.Fatalf("at %ds another took the lease: %v %v", s, ok, err)
		}
	}
	f.clock.Tick(t, t0.Add(10*time.Minute))
	if r := wait(t, done); r.err != nil || r.out.LostLease {
		t.Fatalf("%+v %v", r.out, r.err)
	}
}

// A holder that loses its lease (it expired unrenewed and another took it)
// stops the stream at the next tick, publishes what it heard, and leaves the
// lease to its new holder.
func TestLostLeaseStopsTheStream(t *testing.T) {
	f := newFixture(0, "AAPL")
	done := f.start(f.svc, "inv-1")
	emit := f.str.emitter(t)
	mustEmit(t, emit, trade("AAPL", "1.5", "1", t0))
	f.clock.Set(t0.Add(61 * time.Second)) // the loop was stalled past the lease's end
	if ok, err := f.lease.Acquire(context.Background(), streaming.DefaultLeaseName, "inv-2", time.Minute); err != nil || !ok {
		t.Fatalf("takeover: %v %v", ok, err)
	}
	f.clock.Tick(t, t0.Add(61*time.Second))
	r := wait(t, done)
	if r.err != nil || !r.out.LostLease || r.out.Published != 1 {
		t.Fatalf("%+v %v", r.out, r.err)
	}
	if ok, err := f.lease.Renew(context.Background(), streaming.DefaultLeaseName, "inv-2", time.Minute); err != nil || !ok {
		t.Fatalf("the new holder lost the lease: %v %v", ok, err)
	}
}

// flakyLease fails renewals with an error while failing is set.
type flakyLease struct {
	streaming.Lease
	mu      sync.Mutex
	failing bool
	renews  int
}

func (l *flakyLease) Renew(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	l.mu.Lock()
	l.renews++
	failing := l.failing
	l.mu.Unlock()
	if failing {
		return false, errors.New("throttled")
	}
	return l.Lease.Renew(ctx, name, holder, ttl)
}

// A renewal that fails is tried again every tick while the lease lasts; the
// stream stops when the lease would not outlast the next tick.
func TestRenewalFailuresStopBeforeExpiry(t *testing.T) {
	f := newFixture(0, "AAPL")
	lease := &flakyLease{Lease: f.lease, failing: true}
	done := f.start(f.service(lease), "inv-1")
	f.str.emitter(t)
	// The lease runs to t0+60s; renewals are due from t0+20s.
	for s := 1; s <= 58; s++ {
		f.clock.Tick(t, t0.Add(time.Duration(s)*time.Second))
	}
	f.clock.Tick(t, t0.Add(59*time.Second))
	r := wait(t, done)
	if r.err != nil || !r.out.LostLease {
		t.Fatalf("%+v %v", r.out, r.err)
	}
	if lease.renews != 40 { // t0+20s .. t0+59s
		t.Fatalf("%d renewals tried, want 40", lease.renews)
	}
}

// Subscriptions follow the watch list every refresh: the gone are
// unsubscribed, the new subscribed, at most MaxSymbols of them (the head of the
// list, which comes most needed first), the rest left to the REST poll.
func TestSubscriptionsFollowTheWatchList(t *testing.T) {
	f := newFixture(3, "MSFT", "AAPL", "TSLA", "NVDA", "AAPL")
	var logs bytes.Buffer // written by the loop only, read once it returned
	f.svc = streaming.New(streaming.Config{Lease: f.lease, Watch: f.watch, Stream: f.str, Updates: f.pub, Clock: f.clock,
		MaxSymbols: 3, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	done := f.start(f.svc, "inv-1")
	f.str.emitter(t)
	want := []string{"+MSFT", "+AAPL", "+TSLA"}
	f.watch.Set("MSFT", "TSLA", "AMZN", "NVDA")
	f.clock.Tick(t, t0.Add(29*time.Second)) // not yet due
	if got := f.str.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	f.clock.Tick(t, t0.Add(30*time.Second))
	want = append(want, "-AAPL", "+AMZN")
	eventually(t, "the first refresh", func() bool { return len(f.str.Calls()) == len(want) })
	if got := f.str.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	f.watch.Set("TSLA")
	f.clock.Tick(t, t0.Add(60*time.Second))
	want = append(want, "-AMZN", "-MSFT")
	eventually(t, "the third refresh", func() bool { return len(f.str.Calls()) == len(want) })
	f.watch.mu.Lock()
	f.watch.err = errors.New("database down") // the subscriptions stand
	f.watch.mu.Unlock()
	f.clock.Tick(t, t0.Add(90*time.Second))
	f.clock.Tick(t, t0.Add(10*time.Minute))
	r := wait(t, done)
	if got := f.str.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	if r.err != nil || r.out.Symbols != 1 || r.out.OverTheCap != 0 {
		t.Fatalf("%+v %v", r.out, r.err)
	}
	// The symbols over the cap are logged as the REST poll's when their
	// number changes: NVDA at the start (still NVDA after the first refresh,
	// not logged again), none after the second.
	var over []string
	for line := range strings.Lines(logs.String()) {
		var l struct {
			Msg        string
			OverTheCap int
			First      []string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(l.Msg, "REST poll") {
			over = append(over, fmt.Sprint(l.OverTheCap, l.First))
		}
	}
	if want := []string{"1 [NVDA]", "0 []"}; !slices.Equal(over, want) {
		t.Fatalf("over-the-cap logs %q, want %q", over, want)
	}
}

// Nothing watched: the invocation returns at once and frees the lease.
func TestNothingWatched(t *testing.T) {
	f := newFixture(0)
	r := wait(t, f.start(f.svc, "inv-1"))
	if r.err != nil || r.out.Streamed {
		t.Fatalf("%+v %v", r.out, r.err)
	}
	if ok, _ := f.lease.Acquire(context.Background(), streaming.DefaultLeaseName, "next", time.Minute); !ok {
		t.Fatal("the lease was not released")
	}
}

// A trade stream that stops by itself ends the invocation with an error (the
// next invocation starts afresh) and frees the lease.
func TestStreamStoppingEndsTheInvocation(t *testing.T) {
	f := newFixture(0, "AAPL")
	f.str.fail = errors.New("boom")
	r := wait(t, f.start(f.svc, "inv-1"))
	if !errors.Is(r.err, streaming.ErrStreamStopped) || !strings.Contains(r.err.Error(), "boom") {
		t.Fatalf("%+v %v", r.out, r.err)
	}
	if ok, _ := f.lease.Acquire(context.Background(), streaming.DefaultLeaseName, "next", time.Minute); !ok {
		t.Fatal("the lease was not released")
	}
}
