package command

import (
	"context"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// Rates finds the exchange rate of a day for a transaction recorded without
// one (readmodel.FXRates over the pairs' daily closes; memstore.FXRates in
// memory; storetest.RunFXRates is their contract).
type Rates interface {
	// RateOn is the rate in force on day: what one unit of from was worth in
	// to at the last daily close on or before day (direct, inverted, or
	// crossed through USD), with the date of its oldest quote; false when
	// there is none.
	RateOn(ctx context.Context, from, to string, day calendar.Date) (currency.Rate, bool, error)
}

// MaxRateAge is how far before a transaction's date the close its rate comes
// from may be: a weekend and a holiday or two. An older close is no rate of
// that date (the pair's history is missing there), and the caller is asked for
// one.
const MaxRateAge = 7

// RecordTransaction records one transaction: build makes it from the loaded
// portfolio (whose base currency a body's missing currency defaults to), and
// a missing fxRate is looked up first (FillRates).
func (s *Service) RecordTransaction(ctx context.Context, req Request, build func(p *portfolio.Portfolio) (portfolio.Transaction, error)) (Result, error) {
	lookup := s.rateLookup()
	return s.Execute(ctx, req, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		tx, err := build(p)
		if err != nil {
			return err
		}
		txs := []portfolio.Transaction{tx}
		if err := lookup.fill(ctx, p.BaseCurrency(), txs, false); err != nil {
			return err
		}
		_, err = p.RecordTransaction(txs[0], meta)
		return err
	})
}

// ImportTransactions records txs in one event, every row's missing fxRate
// looked up first; a row without a rate fails the import, named as
// "transaction i" (its index in txs) as the aggregate names a refused row.
func (s *Service) ImportTransactions(ctx context.Context, req Request, txs []portfolio.Transaction) (Result, error) {
	lookup := s.rateLookup()
	return s.Execute(ctx, req, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		batch := make([]portfolio.Transaction, len(txs))
		copy(batch, txs)
		if err := lookup.fill(ctx, p.BaseCurrency(), batch, true); err != nil {
			return err
		}
		_, err := p.ImportTransactions(batch, meta)
		return err
	})
}

// FillRates sets the fxRate of each transaction that needs one and has none
// (see NeedsRate) to the rate of its date, looked up through Options.Rates:
// the rate is then recorded on the event, so a later correction of the closes
// never rewrites the history. Without a rate in force within MaxRateAge days
// before the date, it fails with portfolio.ErrFXRateRequired naming the pair
// and the date.
func (s *Service) FillRates(ctx context.Context, base string, txs []portfolio.Transaction) error {
	return s.rateLookup().fill(ctx, base, txs, len(txs) > 1)
}

// NeedsRate reports whether tx needs an fxRate it lacks: its cash settles in
// another currency than base, it moves money (a SPLIT without charges does not),
// and it is not a CONVERSION into the base (which derives its own from its two
// amounts).
func NeedsRate(tx *portfolio.Transaction, base string) bool {
	if !tx.FXRate.IsZero() || tx.Currency == "" || tx.Settlement() == base {
		return false
	}
	if tx.Type == portfolio.Split && tx.Fee.IsZero() && tx.Tax.IsZero() {
		return false
	}
	return tx.Type != portfolio.Conversion || tx.ToCurrency != base
}

// rateLookup remembers the rates one command looked up: its retries (a lost
// race, a reload of the full history) ask again.
type rateLookup struct {
	rates Rates
	seen  map[rateKey]rateAnswer
}

type rateKey struct {
	from, to string
	day      calendar.Date
}

type rateAnswer struct {
	rate currency.Rate
	ok   bool
}

func (s *Service) rateLookup() *rateLookup {
	return &rateLookup{rates: s.opts.Rates, seen: map[rateKey]rateAnswer{}}
}

// fill looks up the rates txs need; rows names a failed one by its index.
func (l *rateLookup) fill(ctx context.Context, base string, txs []portfolio.Transaction, rows bool) error {
	for i := range txs {
		tx := &txs[i]
		if !NeedsRate(tx, base) {
			continue
		}
		rate, err := l.rateOf(ctx, tx.Settlement(), base, tx.Date)
		if err != nil {
			if rows {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
			return err
		}
		tx.FXRate = rate
	}
	return nil
}

// rateOf is the rate of from → base on day, rounded to the places a recorded
// rate keeps.
func (l *rateLookup) rateOf(ctx context.Context, from, base string, day calendar.Date) (value decimal.Decimal, err error) {
	k := rateKey{from, base, day}
	a, known := l.seen[k]
	if !known && l.rates != nil {
		if a.rate, a.ok, err = l.rates.RateOn(ctx, from, base, day); err != nil {
			return value, fmt.Errorf("look up the %s→%s rate of %s: %w", from, base, day, err)
		}
		l.seen[k] = a
	}
	switch {
	case !a.ok:
		return value, &RateMissingError{From: from, To: base, Day: day}
	case day-a.rate.Date > MaxRateAge:
		return value, &RateMissingError{From: from, To: base, Day: day, Last: a.rate.Date}
	}
	return a.rate.Value.Round(portfolio.FXRateDigits), nil
}

// RateMissingError is a rate the command service could not find: it wraps
// portfolio.ErrFXRateRequired and names the pair and the day, and the date of
// the last rate before it when that one is too old (MaxRateAge).
type RateMissingError struct {
	From, To string
	Day      calendar.Date
	Last     calendar.Date // zero: no rate at all on or before Day
}

func (e *RateMissingError) Error() string {
	if e.Last != 0 {
		return fmt.Sprintf("%v: the last %s→%s rate before %s is of %s, too old to be that day's; give the transaction's fxRate (%s per %s)",
			portfolio.ErrFXRateRequired, e.From, e.To, e.Day, e.Last, e.To, e.From)
	}
	return fmt.Sprintf("%v: no %s→%s rate is known for %s; give the transaction's fxRate (%s per %s)",
		portfolio.ErrFXRateRequired, e.From, e.To, e.Day, e.To, e.From)
}

func (e *RateMissingError) Unwrap() error { return portfolio.ErrFXRateRequired }
