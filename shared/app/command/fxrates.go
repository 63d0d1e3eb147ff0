package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// Rates reads the exchange rates of the days the transactions recorded without
// one fall on (readmodel.FXRates over the pairs' daily closes; memstore.FXRates
// in memory; storetest.RunFXRates is their contract).
type Rates interface {
	// RatesBetween reads, in one round trip, every rate between currencies in
	// force on a day from..to: their USD pairs' daily closes of those days and
	// the last one before from. Its On(a, b, day) for such a day is then what
	// one unit of a was worth in b at the last close on or before day (direct,
	// inverted, or crossed through USD), dated by its oldest quote.
	RatesBetween(ctx context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error)
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

// rateLookup answers the rates one command needs from one read of the port:
// every currency its transactions settle in and the base, over the span of
// their dates. An import of a thousand rows over a thousand days is one query,
// not one a day. Its retries (a lost race, a reload of the full history) read
// nothing again unless they need more.
type rateLookup struct {
	rates  Rates
	loaded *currency.Rates // nil: nothing read yet
	span   rateSpan        // what loaded covers
}

// rateSpan is what a read covers: currencies (sorted) over from..to.
type rateSpan struct {
	currencies []string
	from, to   calendar.Date
}

func (s *Service) rateLookup() *rateLookup { return &rateLookup{rates: s.opts.Rates} }

// fill looks up the rates txs need; rows names a failed one by its index.
func (l *rateLookup) fill(ctx context.Context, base string, txs []portfolio.Transaction, rows bool) error {
	if err := l.load(ctx, base, txs); err != nil {
		return err
	}
	for i := range txs {
		tx := &txs[i]
		if !NeedsRate(tx, base) {
			continue
		}
		rate, err := l.rateOf(tx.Settlement(), base, tx.Date)
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

// load reads the rates txs need unless an earlier read covers them.
func (l *rateLookup) load(ctx context.Context, base string, txs []portfolio.Transaction) error {
	need, ok := spanOf(base, txs)
	if !ok || l.rates == nil || (l.loaded != nil && l.span.covers(need)) {
		return nil
	}
	rates, err := l.rates.RatesBetween(ctx, need.currencies, need.from, need.to)
	if err != nil {
		return fmt.Errorf("look up the rates of %s from %s to %s: %w", strings.Join(need.currencies, ", "), need.from, need.to, err)
	}
	l.loaded, l.span = rates, need
	return nil
}

// spanOf is the currencies (with base) and dates of the transactions that need
// a rate; false when none does.
func spanOf(base string, txs []portfolio.Transaction) (rateSpan, bool) {
	span := rateSpan{currencies: []string{base}}
	found := false
	for i := range txs {
		tx := &txs[i]
		if !NeedsRate(tx, base) {
			continue
		}
		if c := tx.Settlement(); !slices.Contains(span.currencies, c) {
			span.currencies = append(span.currencies, c)
		}
		if !found || tx.Date < span.from {
			span.from = tx.Date
		}
		if !found || tx.Date > span.to {
			span.to = tx.Date
		}
		found = true
	}
	slices.Sort(span.currencies)
	return span, found
}

func (s rateSpan) covers(o rateSpan) bool {
	for _, c := range o.currencies {
		if _, ok := slices.BinarySearch(s.currencies, c); !ok {
			return false
		}
	}
	return s.from <= o.from && o.to <= s.to
}

// rateOf is the rate of from → base on day, rounded to the places a recorded
// rate keeps: the last close on or before day, no older than MaxRateAge.
func (l *rateLookup) rateOf(from, base string, day calendar.Date) (decimal.Decimal, error) {
	var rate currency.Rate
	ok := false
	if l.loaded != nil {
		rate, ok = l.loaded.On(from, base, day)
	}
	switch {
	case !ok:
		return decimal.Decimal{}, &RateMissingError{From: from, To: base, Day: day}
	case day-rate.Date > MaxRateAge:
		return decimal.Decimal{}, &RateMissingError{From: from, To: base, Day: day, Last: rate.Date}
	}
	return rate.Value.Round(portfolio.FXRateDigits), nil
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

// ImportPreview is what an import of some transactions would record, decided
// without writing anything (Service.PreviewImport).
type ImportPreview struct {
	// Transactions are the rows as they would be recorded (a missing fxRate
	// looked up), in the order given, with no ID.
	Transactions []portfolio.Transaction
	// Refused[i] is why the i-th row would be refused, nil when it would be
	// recorded.
	Refused []error
}

// PreviewImport decides an import of txs (in replay order) on userID's
// portfolio without writing anything, row by row: a row without an fxRate
// found is refused (the rate's *RateMissingError) and left out, then the
// domain checks the rest as the import would (portfolio.PreviewImport: every
// refusal, each row against the accepted rows before it). An error refuses
// the whole import: portfolio.ErrNotFound for a portfolio that is not the
// caller's, then the domain's (archived, the import's size and quota).
func (s *Service) PreviewImport(ctx context.Context, userID, portfolioID string, txs []portfolio.Transaction) (ImportPreview, error) {
	p, err := s.Load(ctx, portfolioID)
	if err != nil {
		return ImportPreview{}, err
	}
	if p.Version() == 0 || p.Owner() != userID {
		return ImportPreview{}, fmt.Errorf("%w: portfolio %s", portfolio.ErrNotFound, portfolioID)
	}
	preview := ImportPreview{Transactions: slices.Clone(txs), Refused: make([]error, len(txs))}
	rated, err := s.previewRates(ctx, p.BaseCurrency(), preview)
	if err != nil {
		return ImportPreview{}, err
	}
	meta := portfolio.Meta{UserID: userID, Now: s.opts.Now(), NewID: s.opts.NewID}
	checked, refused, err := s.previewOn(ctx, p, portfolioID, rated.txs, meta)
	if err != nil {
		return ImportPreview{}, err
	}
	for j, i := range rated.rows {
		preview.Transactions[i], preview.Refused[i] = checked[j], refused[j]
	}
	return preview, nil
}

// ratedRows are the rows of a preview with a rate where they need one: txs,
// and the index in the preview of each.
type ratedRows struct {
	txs  []portfolio.Transaction
	rows []int
}

// previewRates fills each row's missing fxRate (one read of the rates, as an
// import's), refuses in preview the rows without one, and returns the rest.
func (s *Service) previewRates(ctx context.Context, base string, preview ImportPreview) (ratedRows, error) {
	lookup := s.rateLookup()
	if err := lookup.load(ctx, base, preview.Transactions); err != nil {
		return ratedRows{}, err
	}
	out := ratedRows{txs: make([]portfolio.Transaction, 0, len(preview.Transactions)), rows: make([]int, 0, len(preview.Transactions))}
	for i := range preview.Transactions {
		tx := &preview.Transactions[i]
		if NeedsRate(tx, base) {
			rate, err := lookup.rateOf(tx.Settlement(), base, tx.Date)
			if err != nil {
				preview.Refused[i] = err
				continue
			}
			tx.FXRate = rate
		}
		out.txs, out.rows = append(out.txs, *tx), append(out.rows, i)
	}
	return out, nil
}

// previewOn runs the domain's preview on p, or on the full history when p
// was restored from a snapshot and a row needs it (as a command does).
func (s *Service) previewOn(ctx context.Context, p *portfolio.Portfolio, id string, txs []portfolio.Transaction, meta portfolio.Meta) ([]portfolio.Transaction, []error, error) {
	checked, refused, err := p.PreviewImport(txs, meta)
	if errors.Is(err, portfolio.ErrHistoryRequired) {
		if p, err = s.loadFull(ctx, id); err != nil {
			return nil, nil, err
		}
		checked, refused, err = p.PreviewImport(txs, meta)
	}
	return checked, refused, err
}
