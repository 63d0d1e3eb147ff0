package analyticsjob

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// Loader loads a portfolio with its full transaction history; *command.Service
// implements it.
type Loader interface {
	LoadFull(ctx context.Context, aggregateID string) (*portfolio.Portfolio, error)
}

// Closes is where the daily closes come from (the prices read model).
type Closes interface {
	// LoadCloses returns the daily closes of symbols over from..to.
	LoadCloses(ctx context.Context, symbols []string, from, to calendar.Date) (*performance.Closes, error)
}

// outcome is what happened to one portfolio of a page.
type outcome struct {
	id       string
	analysis *Analysis
	err      error
}

// computePage loads, values and computes the portfolios ids as of day, with at
// most Concurrency at once, and returns one outcome per ID (same order). A
// portfolio that does not exist (or is not a portfolio) has a nil analysis and
// no error.
func (j *Job) computePage(ctx context.Context, ids []string, day calendar.Date, set Settings) []outcome {
	// Stamped before the closes are read: a backfill completing meanwhile
	// must find these figures older than itself (the analytics refresh
	// compares the two), not newer.
	now := j.opts.Now()
	out, loaded := j.loadPortfolios(ctx, ids)
	// One closes load for the whole page: portfolios share most symbols.
	symbols, first := closesNeeded(out, loaded, day, set)
	// The benchmark's opening anchor is its last close before the first day.
	m, err := j.loadMarket(ctx, loaded, symbols, first-10, day, set)
	if err != nil {
		failLoaded(out, loaded, err)
		return out
	}
	j.analyzeLoaded(out, loaded, m, day, set, now)
	return out
}

// loadMarket reads what the loaded portfolios are valued with over from..to:
// the closes of symbols, the trading currencies their quotes give, and the
// rates of every currency a portfolio needs (Currencies).
func (j *Job) loadMarket(ctx context.Context, loaded []*portfolio.Portfolio, symbols []string, from, to calendar.Date, set Settings) (Market, error) {
	var m Market
	var err error
	if m.Closes, err = j.store.LoadCloses(ctx, symbols, from, to); err != nil {
		return m, err
	}
	if m.Currencies, err = j.store.SymbolCurrencies(ctx, symbols); err != nil {
		return m, err
	}
	seen := map[string]bool{}
	for _, p := range loaded {
		if p == nil {
			continue
		}
		txs, _ := p.Transactions() // closesNeeded dropped those that cannot be read
		for _, c := range Currencies(p, txs, set.ForPortfolio(p).Benchmark, m.Currencies) {
			seen[c] = true
		}
	}
	m.Rates, err = j.store.LoadRates(ctx, slices.Sorted(maps.Keys(seen)), from, to)
	return m, err
}

// loadPortfolios loads the portfolios ids from the event store. loaded[i] is the
// portfolio ids[i], or nil when it failed (out[i].err) or is not a portfolio.
func (j *Job) loadPortfolios(ctx context.Context, ids []string) (out []outcome, loaded []*portfolio.Portfolio) {
	out = make([]outcome, len(ids))
	loaded = make([]*portfolio.Portfolio, len(ids))
	j.parallel(len(ids), func(i int) {
		out[i].id = ids[i]
		p, err := j.loader.LoadFull(ctx, ids[i])
		switch {
		case errors.Is(err, portfolio.ErrNotFound):
		case errors.Is(err, portfolio.ErrCorruptEvent):
			out[i].err = permanent{err} // it stays corrupt until someone repairs it
		case err != nil:
			out[i].err = err
		case p.Version() == 0 || p.ID() == "":
		default:
			loaded[i] = p
		}
	})
	return out, loaded
}

// closesNeeded returns the symbols (sorted) whose closes the loaded portfolios
// need, each portfolio's own benchmark among them, and the first day they are
// needed from. A portfolio whose transactions cannot be read fails for good and
// is dropped from loaded.
func closesNeeded(out []outcome, loaded []*portfolio.Portfolio, day calendar.Date, set Settings) (symbols []string, first calendar.Date) {
	seen := map[string]bool{}
	first = day
	for i, p := range loaded {
		if p == nil {
			continue
		}
		seen[set.ForPortfolio(p).Benchmark] = true
		txs, err := p.Transactions()
		if err != nil {
			out[i].err, loaded[i] = permanent{err}, nil
			continue
		}
		for _, s := range Symbols(p, txs) {
			seen[s] = true
		}
		if d, ok := FirstDay(txs); ok && d < first {
			first = d
		}
	}
	// Trades dated before portfolio.MinTradeDate (stored before the bounds) are
	// left out of the figures, and no close is that old: the look-back stops there,
	// a valid date for the database whatever the history holds.
	first = max(first, portfolio.MinTradeDate)
	symbols = make([]string, 0, len(seen))
	for s := range seen {
		symbols = append(symbols, s)
	}
	slices.Sort(symbols)
	return symbols, first
}

// failLoaded fails every loaded portfolio with err (their closes could not be read).
func failLoaded(out []outcome, loaded []*portfolio.Portfolio, err error) {
	for i := range out {
		if loaded[i] != nil {
			out[i].err = err
		}
	}
}

// analyzeLoaded computes the loaded portfolios' figures, at most Concurrency at once.
func (j *Job) analyzeLoaded(out []outcome, loaded []*portfolio.Portfolio, m Market, day calendar.Date, set Settings, now time.Time) {
	j.parallel(len(out), func(i int) {
		if loaded[i] == nil {
			return
		}
		a, err := Analyze(loaded[i], m, day, set, now)
		if err != nil {
			out[i].err = permanent{err} // computed from what is stored, without I/O
			return
		}
		out[i].analysis = &a
	})
}
