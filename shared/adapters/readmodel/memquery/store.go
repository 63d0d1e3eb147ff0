// Package memquery is the in-memory implementation of the API's query stores:
// portfolios and positions (httpapi.PortfolioReads) and transactions
// (httpapi.TransactionReads), the valuations (httpapi.ValuationReads) and a
// portfolio's symbols with their history (httpapi.SymbolReads), for
// the tests of the API that do not exercise SQL. It passes the contract suite
// readmodel.Queries passes (shared/adapters/httpapi/querytest).
//
// It is fed what the Postgres read models are fed: the portfolio events, which
// Apply folds as the projector does (the lot engine computes positions and
// totals from the active transactions; a version already applied is skipped,
// a gap refused), the latest prices (SetLatestPrices, newer wins) and the
// symbols' backfill records (SetHistories, as the backfill writes them). Feeding
// it events rather than rows keeps a test honest: it states the commands a user
// gave, not the rows a projection would have written. The two stores share one
// fold because one projection writes both. The store is also the portfolios
// table the in-memory alert and metrics stores join on (it implements
// memstore.PortfolioDirectory), and it reads the valuations from the
// memstore.Valuations the prices use case writes.
package memquery

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/shopspring/decimal"
)

// Store holds the read models of portfolios, positions, targets and
// transactions. It is safe for concurrent use.
type Store struct {
	mu         sync.RWMutex
	aggs       map[string]*aggregate
	prices     map[string]readmodel.LatestPrice  // by symbol, as latest_prices
	unknown    map[string]unknownFlag            // by symbol, as symbol_flags
	histories  map[string]market.HistoryStatus   // by symbol, as symbol_history
	closes     map[string][]readmodel.DailyClose // the currency pairs' daily closes, by symbol, as daily_closes
	valuations *memstore.Valuations
}

// unknownFlag is a row of symbol_flags: which provider does not know a symbol,
// in its words.
type unknownFlag struct{ source, reason string }

// New returns an empty store with an empty valuations table of its own.
func New() *Store { return NewOver(memstore.NewValuations()) }

// NewOver returns an empty store whose valuation reads answer from vals (the
// table the prices use case writes).
func NewOver(vals *memstore.Valuations) *Store {
	return &Store{aggs: map[string]*aggregate{}, prices: map[string]readmodel.LatestPrice{}, unknown: map[string]unknownFlag{},
		histories: map[string]market.HistoryStatus{}, closes: map[string][]readmodel.DailyClose{}, valuations: vals}
}

var _ memstore.PortfolioDirectory = (*Store)(nil)

// PortfolioOwner implements memstore.PortfolioDirectory: the owner of a
// portfolio the events created, archived or not, "" for any other.
func (s *Store) PortfolioOwner(portfolioID string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a := s.aggs[portfolioID]; a != nil && a.exists {
		return a.userID
	}
	return ""
}

// ActivePortfolios implements memstore.PortfolioDirectory: the portfolios not
// archived, by ID, at the version applied.
func (s *Store) ActivePortfolios() []readmodel.PortfolioRef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []readmodel.PortfolioRef
	for id, a := range s.aggs {
		if a.exists && !a.view.Archived {
			out = append(out, readmodel.PortfolioRef{ID: id, UserID: a.userID, Version: a.view.Version})
		}
	}
	slices.SortFunc(out, func(a, b readmodel.PortfolioRef) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// aggregate is one portfolio's rows.
type aggregate struct {
	checkpoint int64
	exists     bool
	userID     string // lower case: Postgres compares UUIDs, not their spelling
	view       readmodel.PortfolioView
	txs        []txRow // in recording order
	txIndex    map[string]int
	positions  map[string]readmodel.PositionView // unvalued
	totals     readmodel.TotalsView              // unvalued
	targets    []readmodel.TargetView            // sorted by symbol
	driftBand  decimal.Decimal
	targetsV   int64
}

type txRow struct {
	tx         portfolio.Transaction
	recordedAt time.Time
	voided     bool
	voidReason string
	voidedAt   *time.Time
	version    int64
}

// stored is an instant as timestamptz keeps it: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Round(time.Microsecond) }

// SetLatestPrices records prices; a symbol's price is replaced only by a later
// one, as readmodel.UpsertLatestPrices does.
func (s *Store) SetLatestPrices(_ context.Context, prices []readmodel.LatestPrice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range prices {
		if old, ok := s.prices[p.Symbol]; ok && !old.AsOf.Before(p.AsOf) {
			continue
		}
		p.AsOf = stored(p.AsOf)
		s.prices[p.Symbol] = p
	}
	return nil
}

// SetDailyCloses records daily closes, a later one for the same symbol and day
// replacing the earlier, as readmodel.UpsertDailyCloses does. The store keeps
// those of currency pairs (market.IsFX), which value foreign positions.
func (s *Store) SetDailyCloses(_ context.Context, closes []readmodel.DailyClose) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range closes {
		if !market.IsFX(c.Symbol) {
			continue
		}
		list := s.closes[c.Symbol]
		i := slices.IndexFunc(list, func(o readmodel.DailyClose) bool { return o.Day == c.Day })
		switch {
		case i < 0:
			c.AsOf = stored(c.AsOf)
			s.closes[c.Symbol] = append(list, c)
		case list[i].AsOf.Before(c.AsOf):
			c.AsOf = stored(c.AsOf)
			list[i] = c
		}
	}
	return nil
}

// FlagUnknown records that source does not know symbol (readmodel.SymbolFlags).
func (s *Store) FlagUnknown(_ context.Context, symbol, source, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unknown[symbol] = unknownFlag{source: source, reason: reason}
	return nil
}

// ClearUnknown removes symbol's flag, if any (readmodel.SymbolFlags).
func (s *Store) ClearUnknown(_ context.Context, symbol string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unknown, symbol)
	return nil
}

// Apply folds events in, per aggregate in version order. A version already
// applied is skipped (a redelivery); a gap, or an event that cannot apply,
// is an error, and that aggregate's later events wait. Events of unknown types
// move the version only.
func (s *Store) Apply(_ context.Context, events []portfolio.Event) error {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b portfolio.Event) int {
		return cmp.Or(strings.Compare(a.AggregateID, b.AggregateID), cmp.Compare(a.Version, b.Version))
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	failed := map[string]bool{}
	for i := range sorted {
		e := &sorted[i]
		if failed[e.AggregateID] {
			continue
		}
		a := s.aggs[e.AggregateID]
		if a == nil {
			a = &aggregate{}
			s.aggs[e.AggregateID] = a
		}
		if e.Version <= a.checkpoint {
			continue
		}
		if err := a.apply(e); err != nil {
			failed[e.AggregateID] = true
			errs = append(errs, fmt.Errorf("memquery: %s version %d: %w", e.AggregateID, e.Version, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// apply folds the next event of the aggregate, or changes nothing.
func (a *aggregate) apply(e *portfolio.Event) error {
	if e.Version != a.checkpoint+1 {
		return fmt.Errorf("gap: version %d follows %d", e.Version, a.checkpoint)
	}
	known := slices.Contains(portfolio.EventTypes, e.EventType)
	if known && e.Data == nil {
		return fmt.Errorf("%s without data", e.EventType)
	}
	if _, creates := e.Data.(*portfolio.PortfolioCreated); known && !creates && !a.exists {
		return fmt.Errorf("%s before PortfolioCreated", e.EventType)
	}
	touched := map[string]bool{}
	changed := false // the transactions changed
	if known {
		switch d := e.Data.(type) {
		case *portfolio.PortfolioCreated:
			if err := a.create(e, d); err != nil {
				return err
			}
			changed = true
		case *portfolio.PortfolioDetailsChanged:
			a.view.Name, a.view.Description = d.Name, d.Description
		case *portfolio.PortfolioArchived:
			if !a.view.Archived {
				at := stored(e.Timestamp)
				a.view.Archived, a.view.ArchivedAt = true, &at
			}
		case *portfolio.TargetAllocationSet:
			a.targets = make([]readmodel.TargetView, len(d.Targets))
			for i, t := range d.Targets {
				a.targets[i] = readmodel.TargetView{Symbol: t.Symbol, Weight: t.Weight}
			}
			slices.SortFunc(a.targets, func(x, y readmodel.TargetView) int { return strings.Compare(x.Symbol, y.Symbol) })
			a.driftBand, a.targetsV = d.DriftBand, e.Version
		case *portfolio.AnalyticsSettingsChanged:
			a.view.Settings = readmodel.PortfolioSettingsView{Benchmark: d.Benchmark, WholeShares: d.WholeShares, MinTradeValue: d.MinTradeValue}
		case *portfolio.TransactionRecorded:
			changed = a.record(e, d.Transaction, touched) || changed
		case *portfolio.TransactionsImported:
			for _, tx := range d.Transactions {
				changed = a.record(e, tx, touched) || changed
			}
		case *portfolio.TransactionVoided:
			if i, ok := a.txIndex[d.TransactionID]; ok && a.txs[i].version < e.Version {
				at := stored(e.Timestamp)
				r := &a.txs[i]
				r.voided, r.voidReason, r.voidedAt, r.version = true, d.Reason, &at, e.Version
			}
			if d.Voided.Symbol != "" {
				touched[d.Voided.Symbol] = true
			}
			changed = true
		default:
			return fmt.Errorf("unexpected data %T for %s", e.Data, e.EventType)
		}
	}
	a.checkpoint = e.Version
	if a.exists {
		a.view.Version = e.Version
		if !e.Timestamp.IsZero() {
			a.view.UpdatedAt = stored(e.Timestamp)
		}
	}
	if changed {
		a.recompute(touched, e.Version)
	}
	return nil
}

func (a *aggregate) create(e *portfolio.Event, d *portfolio.PortfolioCreated) error {
	switch {
	case a.exists:
		return fmt.Errorf("PortfolioCreated for existing portfolio (version %d)", a.view.Version)
	case !readmodel.IsUserID(e.UserID):
		return fmt.Errorf("user ID %q is not a UUID", e.UserID)
	case d.LotMethod != portfolio.FIFO && d.LotMethod != portfolio.AverageCost:
		return fmt.Errorf("unknown lot method %q", d.LotMethod)
	}
	def := portfolio.DefaultAnalyticsSettings()
	a.exists, a.userID = true, strings.ToLower(e.UserID)
	a.view = readmodel.PortfolioView{ID: e.AggregateID, Name: d.Name, Description: d.Description, BaseCurrency: d.BaseCurrency,
		LotMethod: d.LotMethod, CreatedAt: stored(e.Timestamp),
		Settings: readmodel.PortfolioSettingsView{Benchmark: def.Benchmark, WholeShares: def.WholeShares, MinTradeValue: def.MinTradeValue}}
	a.txIndex, a.positions = map[string]int{}, map[string]readmodel.PositionView{}
	return nil
}

// record adds one recorded transaction; one outside the stored range is left
// out of the read models, as the projector leaves it out.
func (a *aggregate) record(e *portfolio.Event, tx portfolio.Transaction, touched map[string]bool) bool {
	if tx.CheckStoredRange() != nil {
		return false
	}
	if _, dup := a.txIndex[tx.ID]; dup {
		return false
	}
	a.txIndex[tx.ID] = len(a.txs)
	a.txs = append(a.txs, txRow{tx: tx, recordedAt: stored(e.Timestamp), version: portfolio.VersionOfSeq(tx.Seq)})
	if tx.Symbol != "" {
		touched[tx.Symbol] = true
	}
	return true
}

// recompute replays the active transactions through the lot engine: the
// positions of the touched symbols and the totals take version.
func (a *aggregate) recompute(touched map[string]bool, version int64) {
	txs := make([]portfolio.Transaction, 0, len(a.txs))
	for _, r := range a.txs {
		if !r.voided {
			txs = append(txs, r.tx)
		}
	}
	portfolio.SortForReplay(txs)
	book := lots.New(a.view.LotMethod, a.view.BaseCurrency)
	book.ApplyStored(txs) // what cannot be computed is left out, as the projector leaves it out
	for sym := range touched {
		p, ok := book.Position(sym)
		if !ok {
			delete(a.positions, sym)
			continue
		}
		a.positions[sym] = readmodel.PositionView{Symbol: sym, Quantity: p.Quantity, CostBasis: p.CostBasis, AveragePrice: p.AveragePrice(),
			RealizedPnL: p.RealizedPnL, Fees: p.Fees, Taxes: p.Taxes, Dividends: p.Dividends, Version: version,
			Currency: p.Currency, LocalCurrency: p.Local.Currency, LocalCostBasis: p.Local.CostBasis, LocalRealizedPnL: p.Local.RealizedPnL,
			LocalFees: p.Local.Fees, LocalTaxes: p.Local.Taxes, LocalDividends: p.Local.Dividends, LocalExcluded: p.Local.Excluded}
	}
	s := book.Summary()
	a.totals = readmodel.TotalsView{Cash: s.Cash, RealizedPnL: s.RealizedPnL, Fees: s.Fees, Taxes: s.Taxes, Dividends: s.Dividends,
		Interest: s.Interest, CostBasis: s.CostBasis, Charges: s.Charges, Deposits: s.Deposits, Withdrawals: s.Withdrawals, Version: version}
	for _, b := range s.Balances {
		a.totals.Balances = append(a.totals.Balances, readmodel.CashBalanceView{Currency: b.Currency, Amount: b.Amount})
	}
}

// owned is the caller's portfolio id, or nil.
func (s *Store) owned(userID, id string) *aggregate {
	if !readmodel.IsUserID(userID) {
		return nil
	}
	a := s.aggs[id]
	if a == nil || !a.exists || a.userID != strings.ToLower(userID) {
		return nil
	}
	return a
}

var _ memstore.SymbolHolders = (*Store)(nil)

// SymbolHolders implements memstore.SymbolHolders: the portfolios not archived
// with active transactions in symbol, by ID, each with those transactions in
// replay order.
func (s *Store) SymbolHolders(symbol string) []suggestions.Holder {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []suggestions.Holder
	for id, a := range s.aggs {
		if !a.exists || a.view.Archived {
			continue
		}
		var txs []portfolio.Transaction
		for _, r := range a.txs {
			if !r.voided && r.tx.Symbol == symbol {
				txs = append(txs, r.tx)
			}
		}
		if len(txs) == 0 {
			continue
		}
		portfolio.SortForReplay(txs)
		out = append(out, suggestions.Holder{PortfolioID: id, UserID: a.userID, BaseCurrency: a.view.BaseCurrency, LotMethod: a.view.LotMethod, Transactions: txs})
	}
	slices.SortFunc(out, func(a, b suggestions.Holder) int { return cmp.Compare(a.PortfolioID, b.PortfolioID) })
	return out
}
