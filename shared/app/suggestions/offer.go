package suggestions

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
)

// OfferStore is what Offer reads and writes (readmodel.Suggestions over the
// owner's pool; memstore.Suggestions).
type OfferStore interface {
	// Holders returns the portfolios, not archived, with an active transaction
	// in symbol, each with all its active transactions in symbol.
	Holders(ctx context.Context, symbol string) ([]Holder, error)
	// Propose stores each suggestion whose (portfolio, symbol, kind, date) has
	// none yet, whatever its status, and returns how many it stored.
	Propose(ctx context.Context, suggestions []Suggestion) (int, error)
}

// Options configures the services. Zero values take the defaults.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Offerer turns corporate actions into suggestions.
type Offerer struct {
	store OfferStore
	opts  Options
}

// NewOfferer returns the use case over store.
func NewOfferer(store OfferStore, opts Options) *Offerer {
	return &Offerer{store: store, opts: opts.withDefaults()}
}

// The window in which a recorded DIVIDEND counts as the action's (so that none
// is suggested): from DividendWindowDays before the ex-date to DividendWindowDays
// after the pay date. Owners record a dividend on the day the cash arrives,
// which a broker's file may date a day or two off; without a pay date from the
// provider, it is taken as UnknownPayDays after the ex-date (most pay within a
// month).
const (
	DividendWindowDays = 7
	UnknownPayDays     = 31
)

// Offer stores a suggestion for each action and each portfolio that held the
// action's symbol at the close before its date, unless the portfolio has the
// transaction already, and returns how many suggestions are new. It is
// idempotent: offering the same actions again stores nothing, and a suggestion
// the owner dismissed is never stored again. Actions dated after today are left
// for a later offer (the close before them has not happened); invalid actions
// are logged and skipped.
func (o *Offerer) Offer(ctx context.Context, actions []market.CorporateAction) (int, error) {
	today := calendar.FromTime(o.opts.Now().UTC())
	bySymbol := o.groupBySymbol(ctx, actions)
	var proposals []Suggestion
	for _, symbol := range slices.Sorted(maps.Keys(bySymbol)) {
		holders, err := o.store.Holders(ctx, symbol)
		if err != nil {
			return 0, fmt.Errorf("suggestions: holders of %s: %w", symbol, err)
		}
		for _, h := range holders {
			proposals = append(proposals, o.proposals(ctx, h, bySymbol[symbol], today)...)
		}
	}
	if len(proposals) == 0 {
		return 0, nil
	}
	n, err := o.store.Propose(ctx, proposals)
	if err != nil {
		return 0, fmt.Errorf("suggestions: store %d proposals: %w", len(proposals), err)
	}
	return n, nil
}

// groupBySymbol keeps the valid actions, by symbol and date. The same action
// reported twice is one; two different dividends of one symbol on one ex-date
// (a regular and a special one) are one suggestion of their sum, since a
// suggestion is unique per symbol, kind and date.
func (o *Offerer) groupBySymbol(ctx context.Context, actions []market.CorporateAction) map[string][]market.CorporateAction {
	out, seen := map[string][]market.CorporateAction{}, map[string][]market.CorporateAction{}
	for _, a := range actions {
		if err := a.Validate(); err != nil {
			o.opts.Logger.WarnContext(ctx, "corporate action skipped", "error", err.Error())
			continue
		}
		if slices.ContainsFunc(seen[a.Symbol], func(b market.CorporateAction) bool { return sameAction(a, b) }) {
			continue
		}
		seen[a.Symbol] = append(seen[a.Symbol], a)
		same := slices.IndexFunc(out[a.Symbol], func(b market.CorporateAction) bool { return b.Kind == a.Kind && b.Date == a.Date })
		switch {
		case same < 0:
			out[a.Symbol] = append(out[a.Symbol], a)
		case a.Kind == market.ActionDividend && out[a.Symbol][same].Currency == a.Currency:
			out[a.Symbol][same].CashAmount = out[a.Symbol][same].CashAmount.Add(a.CashAmount)
		}
	}
	for _, acts := range out {
		slices.SortFunc(acts, func(a, b market.CorporateAction) int { return cmp.Compare(a.Date, b.Date) })
	}
	return out
}

func sameAction(a, b market.CorporateAction) bool {
	return a.Kind == b.Kind && a.Date == b.Date && a.SplitFrom.Equal(b.SplitFrom) && a.SplitTo.Equal(b.SplitTo) &&
		a.CashAmount.Equal(b.CashAmount) && a.Currency == b.Currency &&
		(a.PayDate == nil) == (b.PayDate == nil) && (a.PayDate == nil || *a.PayDate == *b.PayDate)
}

// proposals are the suggestions of one portfolio: for each action of its
// symbol dated today or before, held at the close before, not recorded, and a
// transaction the portfolio may record (a dividend in any currency: see
// suggest).
func (o *Offerer) proposals(ctx context.Context, h Holder, actions []market.CorporateAction, today calendar.Date) []Suggestion {
	unrecorded := unrecordedSplits(h, actions)
	var out []Suggestion
	for _, a := range actions {
		if a.Date.After(today) || alreadyRecorded(h.Transactions, a) {
			continue
		}
		held := heldBefore(h, a.Symbol, a.Date, unrecorded)
		if !held.IsPositive() {
			continue
		}
		s, err := suggest(h, a, held, o.opts.Now())
		if err != nil {
			o.opts.Logger.WarnContext(ctx, "corporate action not suggested", "portfolioId", h.PortfolioID, "error", err.Error())
			continue
		}
		out = append(out, s)
	}
	return out
}

// heldBefore is what h held of symbol at the close before date: its
// transactions dated before it folded by the lot engine, as the projection
// folds them (splits included; what the engine leaves out is left out here
// too), with the provider's splits the portfolio has not recorded: a dividend
// after a 4:1 split the owner has yet to accept is paid on four times the
// shares recorded.
func heldBefore(h Holder, symbol string, date calendar.Date, unrecorded []portfolio.Transaction) decimal.Decimal {
	txs := make([]portfolio.Transaction, 0, len(h.Transactions)+len(unrecorded))
	for _, group := range [][]portfolio.Transaction{h.Transactions, unrecorded} {
		for _, tx := range group {
			if tx.Date.Before(date) {
				// Quantities need no rate: without a currency the book converts
				// nothing, so a foreign trade stored without its fxRate counts.
				tx.Currency, tx.FXRate = "", decimal.Decimal{}
				txs = append(txs, tx)
			}
		}
	}
	portfolio.SortForReplay(txs)
	method := h.LotMethod
	if method != portfolio.FIFO && method != portfolio.AverageCost {
		method = portfolio.FIFO // the quantity is the same under either
	}
	book := lots.New(method, h.BaseCurrency)
	book.ApplyStored(txs)
	return book.Quantity(symbol)
}

// unrecordedSplits are the provider's splits h has no SPLIT for, as
// transactions.
func unrecordedSplits(h Holder, actions []market.CorporateAction) []portfolio.Transaction {
	var out []portfolio.Transaction
	for _, a := range actions {
		if a.Kind != market.ActionSplit || alreadyRecorded(h.Transactions, a) {
			continue
		}
		if r, err := ratioOf(a); err == nil {
			out = append(out, portfolio.Transaction{Type: portfolio.Split, Date: a.Date, Symbol: a.Symbol, Ratio: r})
		}
	}
	return out
}

// alreadyRecorded reports whether txs hold the action's transaction: a SPLIT of
// the symbol on the execution date (whatever its ratio), or a DIVIDEND of the
// symbol in the window around the ex-date and pay date (DividendWindowDays).
func alreadyRecorded(txs []portfolio.Transaction, a market.CorporateAction) bool {
	from, to := a.Date, a.Date
	want := portfolio.Split
	if a.Kind == market.ActionDividend {
		want = portfolio.Dividend
		pay := a.Date.AddDays(UnknownPayDays)
		if a.PayDate != nil && !a.PayDate.Before(a.Date) {
			pay = *a.PayDate
		}
		from, to = a.Date.AddDays(-DividendWindowDays), pay.AddDays(DividendWindowDays)
	}
	return slices.ContainsFunc(txs, func(tx portfolio.Transaction) bool {
		return tx.Type == want && tx.Symbol == a.Symbol && !tx.Date.Before(from) && !tx.Date.After(to)
	})
}

// suggest builds the suggestion of action a to h, which held held shares. The
// transaction is checked as the aggregate would check it (its payload rules and
// bounds), so an accept fails only on what changed since.
//
// A dividend is paid in the action's currency (else the symbol's trading
// currency, else the portfolio's), whatever the portfolio's: a USD dividend to
// a EUR portfolio is a USD DIVIDEND, without fxRate. Its rate is the trade
// date's, which the command service looks up when the owner accepts (the
// suggestion may be accepted long after it is offered, and the rate is a fact
// of the pay date, not of the offer). A split moves no cash: it is recorded in
// the base, which needs no rate.
func suggest(h Holder, a market.CorporateAction, held decimal.Decimal, now time.Time) (Suggestion, error) {
	s := Suggestion{
		ID: IDFor(h.PortfolioID, a.Symbol, a.Kind, a.Date), PortfolioID: h.PortfolioID, UserID: h.UserID,
		Symbol: a.Symbol, Kind: a.Kind, Date: a.Date, PayDate: a.PayDate, Held: held, Source: a.Source, Status: Pending,
	}
	tx := portfolio.Transaction{Symbol: a.Symbol, Currency: h.BaseCurrency}
	switch a.Kind {
	case market.ActionSplit:
		r, err := ratioOf(a)
		if err != nil {
			return Suggestion{}, err
		}
		tx.Type, tx.Date, tx.Ratio = portfolio.Split, a.Date, r
		tx.Note = fmt.Sprintf("%s split executed %s (suggested from %s)", r, a.Date, a.Source)
	case market.ActionDividend:
		tx.Type, tx.Date, tx.Amount = portfolio.Dividend, a.Date, a.CashAmount.Mul(held)
		tx.Currency = cmp.Or(a.Currency, tradingCurrency(h, a.Symbol), h.BaseCurrency)
		if a.PayDate != nil && !a.PayDate.Before(a.Date) {
			tx.Date = *a.PayDate
		}
		s.PerShare = a.CashAmount
		tx.Note = fmt.Sprintf("%s per share on %s shares held at the ex-date %s (suggested from %s)", a.CashAmount, held, a.Date, a.Source)
	}
	if err := tx.Validate(); err != nil {
		return Suggestion{}, fmt.Errorf("%s %s of %s: %w", a.Kind, a.Date, a.Symbol, err)
	}
	if err := tx.CheckBounds(now); err != nil {
		return Suggestion{}, fmt.Errorf("%s %s of %s: %w", a.Kind, a.Date, a.Symbol, err)
	}
	s.Transaction = tx
	return s, nil
}

// ratioOf is a split's ratio in whole shares: SplitTo new for SplitFrom old,
// scaled to integers and reduced (a provider's 1.5 → 1 is 3:2), each side
// within portfolio.MaxRatioSide.
func ratioOf(a market.CorporateAction) (portfolio.Ratio, error) {
	places := max(-a.SplitFrom.Exponent(), -a.SplitTo.Exponent(), 0)
	scale := decimal.New(1, places)
	n, d := a.SplitTo.Mul(scale).BigInt(), a.SplitFrom.Mul(scale).BigInt()
	if g := new(big.Int).GCD(nil, nil, n, d); g.Sign() > 0 {
		n.Quo(n, g)
		d.Quo(d, g)
	}
	if !n.IsInt64() || !d.IsInt64() || n.Int64() < 1 || d.Int64() < 1 || n.Int64() > portfolio.MaxRatioSide || d.Int64() > portfolio.MaxRatioSide {
		return portfolio.Ratio{}, fmt.Errorf("split of %s on %s: %s → %s is no ratio of whole shares up to %d", a.Symbol, a.Date, a.SplitFrom, a.SplitTo, portfolio.MaxRatioSide)
	}
	return portfolio.Ratio{New: n.Int64(), Old: d.Int64()}, nil
}

// tradingCurrency is the currency h's trades of symbol are in ("" when none
// says).
func tradingCurrency(h Holder, symbol string) string {
	for _, tx := range h.Transactions {
		if tx.Symbol == symbol && tx.Type.IsTrade() && tx.Currency != "" {
			return tx.Currency
		}
	}
	return ""
}
