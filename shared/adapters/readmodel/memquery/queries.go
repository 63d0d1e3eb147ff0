package memquery

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// ListPortfolios returns the user's portfolios, archived ones included, oldest
// first.
func (s *Store) ListPortfolios(_ context.Context, userID string) ([]readmodel.PortfolioView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []readmodel.PortfolioView{}
	for id := range s.aggs {
		if a := s.owned(userID, id); a != nil {
			out = append(out, a.portfolio())
		}
	}
	slices.SortFunc(out, func(x, y readmodel.PortfolioView) int {
		return cmp.Or(x.CreatedAt.Compare(y.CreatedAt), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// GetPortfolio returns one of the user's portfolios, or portfolio.ErrNotFound.
func (s *Store) GetPortfolio(_ context.Context, userID, portfolioID string) (readmodel.PortfolioView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.owned(userID, portfolioID)
	if a == nil {
		return readmodel.PortfolioView{}, portfolio.ErrNotFound
	}
	return a.portfolio(), nil
}

// portfolio is a copy of the view that shares nothing with the store.
func (a *aggregate) portfolio() readmodel.PortfolioView {
	v := a.view
	if v.ArchivedAt != nil {
		at := *v.ArchivedAt
		v.ArchivedAt = &at
	}
	return v
}

// Positions returns the portfolio's positions, sorted by symbol and valued at
// the latest prices and the live rates (readmodel.ValuePositions), and its
// totals, or portfolio.ErrNotFound. Symbols sort bytewise; PostgreSQL sorts
// them by the database's collation, which agrees on tickers of capitals and
// digits.
func (s *Store) Positions(_ context.Context, userID, portfolioID string) (readmodel.PositionsView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.owned(userID, portfolioID)
	if a == nil {
		return readmodel.PositionsView{}, portfolio.ErrNotFound
	}
	v := readmodel.PositionsView{PortfolioID: portfolioID, BaseCurrency: a.view.BaseCurrency, Positions: []readmodel.PositionView{},
		Totals: a.totals, AsOfVersion: a.view.Version}
	v.Totals.Balances = slices.Clone(a.totals.Balances)
	prices := map[string]readmodel.LatestPrice{}
	for _, sym := range slices.Sorted(maps.Keys(a.positions)) {
		p := a.positions[sym]
		p.Warnings = nil
		if f, ok := s.unknown[sym]; ok {
			p.Warnings = []readmodel.PositionWarning{readmodel.UnknownSymbolWarning(sym, f.source, f.reason)}
		}
		if px, ok := s.prices[sym]; ok && !p.Quantity.IsZero() {
			prices[sym] = px
		}
		v.Positions = append(v.Positions, p)
	}
	today := calendar.FromTime(time.Now().UTC())
	readmodel.ValuePositions(&v, prices, s.rates(readmodel.ValueNeeds(&v), today), today)
	return v, nil
}

// rates are what readmodel.LoadRates reads over today..today with live quotes:
// the pairs' closes up to today and their latest prices as the rate of their day.
func (s *Store) rates(currencies []string, today calendar.Date) *currency.Rates {
	rates := currency.NewRates()
	add := func(symbol string, day calendar.Date, price decimal.Decimal) {
		if pair, ok := market.ParseFXPair(symbol); ok && price.IsPositive() {
			_ = rates.Add(day, pair.Base, pair.Quote, price) // an unknown code in a pair symbol prices nothing
		}
	}
	for _, sym := range readmodel.PairSymbols(currencies) {
		for _, c := range s.closes[sym] {
			if c.Day <= today {
				add(sym, c.Day, c.Close)
			}
		}
		if px, ok := s.prices[sym]; ok {
			add(sym, calendar.FromTime(px.AsOf.UTC()), px.Price)
		}
	}
	return rates
}

// Targets returns the portfolio's target allocation, or portfolio.ErrNotFound.
func (s *Store) Targets(_ context.Context, userID, portfolioID string) (readmodel.TargetsView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.owned(userID, portfolioID)
	if a == nil {
		return readmodel.TargetsView{}, portfolio.ErrNotFound
	}
	v := readmodel.TargetsView{PortfolioID: portfolioID, Targets: slices.Clone(a.targets), AsOfVersion: a.view.Version}
	if v.Targets == nil {
		v.Targets = []readmodel.TargetView{}
	}
	if len(v.Targets) > 0 {
		v.DriftBand, v.Version = a.driftBand, a.targetsV
	}
	return v, nil
}

// Transactions returns one page of the portfolio's transactions, newest first
// (by trade date, then recording order), or portfolio.ErrNotFound. cursor and
// limit are as readmodel.Queries.Transactions takes them.
func (s *Store) Transactions(_ context.Context, userID, portfolioID string, f readmodel.TransactionFilter, cursor string, limit int) (readmodel.TransactionPage, error) {
	if !readmodel.IsUserID(userID) {
		return readmodel.TransactionPage{}, portfolio.ErrNotFound
	}
	switch {
	case limit <= 0:
		limit = readmodel.DefaultPageSize
	case limit > readmodel.MaxPageSize:
		limit = readmodel.MaxPageSize
	}
	var after *cursorAt
	if cursor != "" {
		d, seq, err := readmodel.ParseTransactionCursor(cursor)
		if err != nil {
			return readmodel.TransactionPage{}, err
		}
		after = &cursorAt{d, seq}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.owned(userID, portfolioID)
	if a == nil {
		return readmodel.TransactionPage{}, portfolio.ErrNotFound
	}
	page := readmodel.TransactionPage{Items: []readmodel.TransactionView{}, AsOfVersion: a.view.Version}
	for _, r := range a.txs {
		t := &r.tx
		switch {
		case f.Symbol != "" && t.Symbol != f.Symbol, f.Type != "" && t.Type != f.Type,
			f.From != nil && t.Date < *f.From, f.To != nil && t.Date > *f.To, !f.IncludeVoided && r.voided,
			after != nil && (t.Date > after.date || t.Date == after.date && t.Seq >= after.seq):
			continue
		}
		v := readmodel.TransactionView{ID: t.ID, PortfolioID: portfolioID, Seq: t.Seq, Type: t.Type, Date: t.Date, Symbol: t.Symbol,
			Quantity: t.Quantity, Price: t.Price, Amount: t.Amount, Fee: t.Fee, Tax: t.Tax, Currency: t.Currency, Note: t.Note,
			FXRate: t.FXRate, ToAmount: t.ToAmount, ToCurrency: t.ToCurrency,
			Voided: r.voided, VoidReason: r.voidReason, RecordedAt: r.recordedAt, Version: r.version}
		if !t.Ratio.IsZero() {
			v.Ratio = t.Ratio.String()
		}
		if r.voidedAt != nil {
			at := *r.voidedAt
			v.VoidedAt = &at
		}
		page.Items = append(page.Items, v)
	}
	slices.SortFunc(page.Items, func(x, y readmodel.TransactionView) int {
		return cmp.Or(cmp.Compare(y.Date, x.Date), cmp.Compare(y.Seq, x.Seq))
	})
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = readmodel.TransactionCursor(last.Date, last.Seq)
	}
	return page, nil
}

// cursorAt is the (trade date, seq) a page follows.
type cursorAt struct {
	date calendar.Date
	seq  int64
}

// Valuations implements httpapi.ValuationReads: userID's valuations of
// portfolioID with from ≤ as_of < to, oldest first, a page of at most limit
// (clamped to 1..readmodel.MaxValuationsPage), or portfolio.ErrNotFound when
// the portfolio is not the caller's.
func (s *Store) Valuations(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) (readmodel.ValuationsPage, error) {
	s.mu.RLock()
	owner := ""
	if a := s.owned(userID, portfolioID); a != nil {
		owner = a.userID // as the projection stores it: PostgreSQL compares UUIDs, not their spelling
	}
	s.mu.RUnlock()
	if owner == "" {
		return readmodel.ValuationsPage{}, portfolio.ErrNotFound
	}
	limit = max(1, min(limit, readmodel.MaxValuationsPage))
	items, err := s.valuations.ValuationHistory(ctx, owner, portfolioID, from, to, limit)
	if err != nil {
		return readmodel.ValuationsPage{}, err
	}
	return readmodel.ValuationsPage{PortfolioID: portfolioID, Items: items, More: len(items) == limit}, nil
}
