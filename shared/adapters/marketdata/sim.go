package marketdata

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// SimSymbol is one simulated instrument: its opening price and its annualised drift
// (μ) and volatility (σ).
type SimSymbol struct {
	Symbol     string
	Start      decimal.Decimal
	Drift      float64
	Volatility float64
	Exchange   string
}

// DefaultSimSymbols are a few US listings with plausible prices and volatilities.
func DefaultSimSymbols() []SimSymbol {
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	return []SimSymbol{
		{"AAPL", d("190.00"), 0.08, 0.25, "XNAS"},
		{"MSFT", d("410.00"), 0.08, 0.22, "XNAS"},
		{"GOOGL", d("170.00"), 0.07, 0.28, "XNAS"},
		{"AMZN", d("180.00"), 0.09, 0.30, "XNAS"},
		{"NVDA", d("900.00"), 0.15, 0.50, "XNAS"},
		{"TSLA", d("175.00"), 0.05, 0.60, "XNAS"},
		{"JPM", d("195.00"), 0.06, 0.22, "XNYS"},
		{"SPY", d("520.00"), 0.06, 0.15, "ARCX"},
		{"VTI", d("255.00"), 0.06, 0.16, "ARCX"},
		{"BND", d("72.00"), 0.02, 0.06, "XNAS"},
	}
}

// SimConfig configures a Simulator.
type SimConfig struct {
	// Seed selects the sequence: the same seed, symbols, start and intervals give the
	// same quotes, on any machine. Each symbol draws from its own stream (seeded
	// from Seed and the symbol), so adding a symbol leaves the others unchanged.
	Seed    uint64
	Symbols []SimSymbol // nil means DefaultSimSymbols()
	// Start is the simulated clock's origin (required). A stateless caller (a
	// Lambda) anchors it to a fixed instant, such as today's 00:00 UTC, so every
	// container regenerates the same path.
	Start time.Time
	// A symbol ticks after a uniformly random interval in [MinInterval, MaxInterval]
	// of trading time. Defaults 500 ms and 3 s.
	MinInterval time.Duration
	MaxInterval time.Duration
	// MarketHours restricts ticks to 09:30–16:00 America/New_York, Monday to Friday
	// (exchange holidays are not modelled). Trading time then excludes nights and
	// weekends: prices do not gap overnight.
	MarketHours bool
	// Speed scales Run's pacing: 1 (the default) is real time, 60 a simulated minute
	// per second. Unpaced makes Run emit as fast as emit accepts.
	Speed   float64
	Unpaced bool
	// Now is the clock Quote advances to (default time.Now); Sleep paces Run.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Simulator is a deterministic random walk: geometric Brownian motion per symbol,
// quoted in the symbol's currency (SimCurrency),
// stepped at random tick times.
//
// Each tick multiplies the price by 1 + μ·dt + σ·√dt·Z (the Euler step of GBM), dt
// being the trading time since the symbol's previous tick in years (252 sessions of
// 6.5 h with MarketHours, 365.25 days without), and Z an Irwin–Hall normal (twelve
// uniforms less six). Only +, −, ×, ÷ and √ are used, each rounded explicitly, so no
// platform's exp/log or fused multiply-add can change a bit: amd64 and arm64 produce
// the same sequence. Published prices are rounded to cents (at least 0.01).
//
// A Simulator is a Feed (Run paces ticks by their timestamps) and a QuoteProvider
// (Quote advances to Now and returns the symbol's latest tick). It is safe for
// concurrent use.
type Simulator struct {
	mu        sync.Mutex
	cfg       SimConfig
	syms      []simState
	index     map[string]int
	minIv     int64
	spanIv    int64
	yearNanos float64
}

type simState struct {
	def   SimSymbol
	cur   string // SimCurrency(def.Symbol)
	rng   uint64
	price float64
	next  int64 // Unix nanoseconds of the next tick
	dt    float64
	last  Quote
}

// NewSimulator validates cfg and positions every symbol at Start.
func NewSimulator(cfg SimConfig) (*Simulator, error) {
	if cfg.Symbols == nil {
		cfg.Symbols = DefaultSimSymbols()
	}
	if cfg.Start.IsZero() {
		return nil, errors.New("simulator: Start is required")
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 500 * time.Millisecond
	}
	if cfg.MaxInterval <= 0 {
		cfg.MaxInterval = 3 * time.Second
	}
	if cfg.MaxInterval < cfg.MinInterval {
		return nil, fmt.Errorf("simulator: MaxInterval %s is below MinInterval %s", cfg.MaxInterval, cfg.MinInterval)
	}
	if cfg.MaxInterval > time.Hour {
		return nil, fmt.Errorf("simulator: MaxInterval %s exceeds an hour", cfg.MaxInterval)
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = retry.Sleep
	}
	s := &Simulator{
		cfg: cfg, index: make(map[string]int, len(cfg.Symbols)),
		minIv: int64(cfg.MinInterval), spanIv: int64(cfg.MaxInterval - cfg.MinInterval),
		yearNanos: 365.25 * 24 * float64(time.Hour),
	}
	if cfg.MarketHours {
		s.yearNanos = 252 * 6.5 * float64(time.Hour)
	}
	start := cfg.Start.UnixNano()
	for _, def := range cfg.Symbols {
		if err := checkSymbol(def.Symbol); err != nil {
			return nil, fmt.Errorf("simulator: symbol %q is invalid", def.Symbol)
		}
		if _, dup := s.index[def.Symbol]; dup {
			return nil, fmt.Errorf("simulator: symbol %s appears twice", def.Symbol)
		}
		if !def.Start.IsPositive() || def.Start.GreaterThan(decimal.New(1, 9)) {
			return nil, fmt.Errorf("simulator: %s start price %s must be in (0, 1e9]", def.Symbol, def.Start)
		}
		if math.IsNaN(def.Drift) || math.Abs(def.Drift) > 5 || math.IsNaN(def.Volatility) || def.Volatility < 0 || def.Volatility > 5 {
			return nil, fmt.Errorf("simulator: %s drift must be within ±5 and volatility within [0, 5]", def.Symbol)
		}
		st := simState{def: def, cur: SimCurrency(def.Symbol), rng: splitmix(cfg.Seed ^ fnv64a(def.Symbol)), price: def.Start.InexactFloat64()}
		st.last = Quote{Symbol: def.Symbol, Price: def.Start, Volume: decimal.Zero, Timestamp: cfg.Start.UTC(), Exchange: def.Exchange,
			Source: SourceSimulated, Currency: st.cur}
		iv := s.interval(&st)
		st.next = s.schedule(start, iv)
		st.dt = float64(iv) / s.yearNanos
		s.index[def.Symbol] = len(s.syms)
		s.syms = append(s.syms, st)
	}
	if len(s.syms) == 0 {
		return nil, errors.New("simulator: no symbols")
	}
	return s, nil
}

// Name implements QuoteProvider.
func (s *Simulator) Name() string { return SourceSimulated }

// Next returns the next tick of any symbol, in time order (ties by symbol order).
func (s *Simulator) Next() Quote {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.step()
}

// AdvanceTo returns every tick with a timestamp at or before t, in order.
func (s *Simulator) AdvanceTo(t time.Time) []Quote {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := t.UnixNano()
	var out []Quote
	for s.syms[s.earliest()].next <= limit {
		out = append(out, s.step())
	}
	return out
}

// Quote implements QuoteProvider: it advances the walk to Now and returns symbol's
// latest tick (its starting quote if it has not ticked yet).
func (s *Simulator) Quote(_ context.Context, symbol string) (Quote, error) {
	s.mu.Lock()
	i, ok := s.index[symbol]
	s.mu.Unlock()
	if !ok {
		return Quote{}, &MarketDataError{Provider: SourceSimulated, Symbol: symbol, Kind: KindNotFound, Message: "symbol is not simulated", At: s.cfg.Now().UTC()}
	}
	s.AdvanceTo(s.cfg.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syms[i].last, nil
}

// Run implements Feed. Tick k is emitted at wall-clock start + (tₖ − Start)/Speed,
// or at once when Unpaced. It never ends by itself.
func (s *Simulator) Run(ctx context.Context, emit func(Quote) error) error {
	wallStart := s.cfg.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := s.Next()
		if !s.cfg.Unpaced {
			due := wallStart.Add(time.Duration(float64(q.Timestamp.Sub(s.cfg.Start)) / s.cfg.Speed))
			if err := s.cfg.Sleep(ctx, due.Sub(s.cfg.Now())); err != nil {
				return err
			}
		}
		if err := emit(q); err != nil {
			return err
		}
	}
}

func (s *Simulator) earliest() int {
	best := 0
	for i := 1; i < len(s.syms); i++ {
		if s.syms[i].next < s.syms[best].next {
			best = i
		}
	}
	return best
}

// step advances the earliest symbol by one tick. Callers hold mu.
func (s *Simulator) step() Quote {
	st := &s.syms[s.earliest()]
	at := st.next
	z := irwinHall(&st.rng)
	dt := st.dt
	drift := float64(st.def.Drift * dt)
	shock := float64(float64(st.def.Volatility*math.Sqrt(dt)) * z)
	factor := float64(1 + drift)
	factor = float64(factor + shock)
	if factor < 0.01 {
		factor = 0.01
	}
	st.price = float64(st.price * factor)
	cents := int64(math.Round(float64(st.price * 100)))
	if cents < 1 {
		cents = 1
		st.price = 0.01
	}
	vol := int64(1 + splitmixNext(&st.rng)%500)
	st.last = Quote{
		Symbol: st.def.Symbol, Price: decimal.New(cents, -2), Volume: decimal.NewFromInt(vol),
		Timestamp: time.Unix(0, at).UTC(), Exchange: st.def.Exchange, Source: SourceSimulated, Currency: st.cur,
	}
	iv := s.interval(st)
	st.next = s.schedule(at, iv)
	st.dt = float64(iv) / s.yearNanos
	return st.last
}

// interval draws a tick interval in whole milliseconds (as trade timestamps are).
func (s *Simulator) interval(st *simState) int64 {
	span := s.spanIv / int64(time.Millisecond)
	if span == 0 {
		return s.minIv
	}
	return s.minIv + int64(splitmixNext(&st.rng)%uint64(span+1))*int64(time.Millisecond)
}

// schedule returns the time iv of trading time after from.
func (s *Simulator) schedule(from, iv int64) int64 {
	if !s.cfg.MarketHours {
		return from + iv
	}
	open, closing := session(from)
	t := from
	if t < open {
		t = open
	}
	for {
		if t+iv < closing {
			return t + iv
		}
		iv -= closing - t
		open, closing = session(closing)
		t = open
	}
}

// session returns the regular New York session containing t, or the next one.
func session(t int64) (open, closing int64) {
	ny := market.NewYork()
	lt := time.Unix(0, t).In(ny)
	y, m, d := lt.Date()
	for k := 0; ; k++ {
		day := time.Date(y, m, d+k, 12, 0, 0, 0, ny)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		dy, dm, dd := day.Date()
		o := time.Date(dy, dm, dd, 9, 30, 0, 0, ny).UnixNano()
		c := time.Date(dy, dm, dd, 16, 0, 0, 0, ny).UnixNano()
		if t < c {
			return o, c
		}
	}
}

// splitmix is SplitMix64's output function; splitmixNext advances a state.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func splitmixNext(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	x := *state
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// irwinHall returns a standard-normal-like variate from twelve 32-bit uniforms: the
// sum is an exact integer, so the result is bit-identical everywhere.
func irwinHall(state *uint64) float64 {
	var sum uint64
	for i := 0; i < 6; i++ {
		r := splitmixNext(state)
		sum += r>>32 + r&0xffffffff
	}
	return float64(sum)/4294967296.0 - 6
}

func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
