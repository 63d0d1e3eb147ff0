package performance

import (
	"fmt"
	"math"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// MaxDays is the longest range Build accepts (about 358 years).
const MaxDays = 1 << 17

// Series is the daily value of a portfolio and its external flows, one entry per
// calendar day (see the package doc for the conventions). Value, Inflow and Outflow
// are indexed like Days; Inflow and Outflow are non-negative.
type Series struct {
	Days    []calendar.Date
	Start   float64   // value at the end of the day before Days[0]
	Value   []float64 // end-of-day value
	Inflow  []float64 // money the investor put in that day
	Outflow []float64 // money the investor took out that day
	// CashAccount is true when the history records a DEPOSIT or WITHDRAWAL: values
	// include cash and only deposits and withdrawals are flows. Otherwise trades,
	// income and fees are the flows and values are holdings alone.
	CashAccount bool
	Warnings    []Warning
}

// Warning reports a symbol held on days it had no close on or before: it was
// valued at its last trade price on those days (zero if it was never traded, e.g.
// received by a split alone). Day is the first such day in the series (or the day
// before Days[0], for Start).
//
// A warning with Currency set (and Symbol empty) reports instead, for BuildFX, a
// currency needed on days with no rate into Base in force: it was valued at the
// rate of its latest transaction on those days. One with CloseCurrency set
// reports a symbol whose closes are quoted in another settlement currency than
// its trades (TradeCurrency): they are not its price, and it was valued at its
// last trade price on every day held.
type Warning struct {
	Symbol string
	Day    calendar.Date
	// Currency and Base: the pair without a rate (BuildFX only).
	Currency, Base string
	// CloseCurrency and TradeCurrency: the symbol's closes' and trades' currencies
	// when they do not settle alike (BuildFX only).
	CloseCurrency, TradeCurrency string
}

func (w Warning) String() string {
	if w.Currency != "" {
		return fmt.Sprintf("%s is needed on %s but no %s→%s rate is in force on that day; it is valued at its latest transaction's rate until a rate is", w.Currency, w.Day, w.Currency, w.Base)
	}
	if w.CloseCurrency != "" {
		return fmt.Sprintf("%s is held on %s but its closes are in %s and its trades in %s; it is valued at its last trade price", w.Symbol, w.Day, w.CloseCurrency, w.TradeCurrency)
	}
	return fmt.Sprintf("%s is held on %s but has no close on or before that day; it is valued at its last trade price until its first close", w.Symbol, w.Day)
}

// Build replays txs, which must be in portfolio.SortForReplay order, and values the
// holdings with closes (nil means no closes) for every day from..to inclusive. It
// fails on transactions out of order, a sell of more than is held (beyond
// portfolio.Dust), a malformed split ratio, or a bad range.
func Build(txs []portfolio.Transaction, closes *Closes, from, to calendar.Date) (*Series, error) {
	return buildSeries(txs, closes, nil, from, to)
}

func buildSeries(txs []portfolio.Transaction, closes *Closes, fx *fxBook, from, to calendar.Date) (*Series, error) {
	if to < from {
		return nil, fmt.Errorf("performance: range %s..%s ends before it starts", from, to)
	}
	n := int(to-from) + 1
	if n > MaxDays {
		return nil, fmt.Errorf("performance: range %s..%s is longer than %d days", from, to, MaxDays)
	}
	cash := false
	for i := range txs {
		if i > 0 && portfolio.CompareForReplay(&txs[i-1], &txs[i]) > 0 {
			return nil, fmt.Errorf("performance: transactions are not in replay order at %s (%s on %s after %s on %s); sort them with portfolio.SortForReplay",
				txs[i].ID, txs[i].Type, txs[i].Date, txs[i-1].Type, txs[i-1].Date)
		}
		if t := txs[i].Type; t == portfolio.Deposit || t == portfolio.Withdrawal {
			cash = true
		}
	}
	if closes != nil && !closes.sealed {
		return nil, fmt.Errorf("performance: closes not sealed (call Seal after Add)")
	}

	s := &Series{
		Days:        make([]calendar.Date, n),
		Value:       make([]float64, n),
		Inflow:      make([]float64, n),
		Outflow:     make([]float64, n),
		CashAccount: cash,
	}
	b := builder{closes: closes, cashMode: cash, bySym: make(map[string]int32), s: s, fx: fx}
	value := b.value
	if fx != nil {
		fx.start(from-1, to)
		value = b.valueFX
	}

	ti := 0
	for ; ti < len(txs) && txs[ti].Date < from; ti++ {
		if err := b.apply(&txs[ti], -1); err != nil {
			return nil, err
		}
	}
	s.Start = value(from - 1)
	for i := range n {
		day := from + calendar.Date(i)
		s.Days[i] = day
		for ; ti < len(txs) && txs[ti].Date == day; ti++ {
			if err := b.apply(&txs[ti], i); err != nil {
				return nil, err
			}
		}
		s.Value[i] = value(day)
	}
	return s, nil
}

type holding struct {
	ser  *symSeries // nil when the symbol has no closes
	ccy  int32      // BuildFX: the fxBook id of the trading currency (0, the base, until a trade says)
	cur  int32      // while not held: index of the last close valued, −1 for none
	slot int        // position in the active columns, −1 when not held
	idx  int32      // position in builder.hold
	qty  quantity
	sym  string
	warn bool // a warning has been recorded
	// BuildFX: ccy is set, and closesIn has read how the closes price it.
	traded bool
	// tradePx is the last BUY or SELL price (split-adjusted): until the symbol's
	// first close it values the holding, since a trade is a price too. Counting a
	// just-bought holding as 0 would make its first day a −100% return.
	tradePx float64
}

// never is a date no close is on: an active holding with next = never has no
// further close to move to.
const never = calendar.Date(math.MaxInt32)

type builder struct {
	closes   *Closes
	cashMode bool
	cash     cashSum
	cashF    float64
	hold     []holding
	bySym    map[string]int32

	// The held symbols, as columns for value's loop: quantity, the close in force,
	// and the date of the next close (when the close in force changes); and for
	// advance, the series, the index of the close in force, and the holding.
	actQty   []float64
	actPx    []float64
	actNext  []calendar.Date
	actSer   []*symSeries
	actCur   []int32
	actHold  []int32
	actCcy   []int32   // BuildFX: the holding's trading currency id
	actScale []float64 // BuildFX: fxBook.scaleOf the holding

	fx *fxBook // nil in Build
	s  *Series
}

// value is the end-of-day value on day. Days must not decrease between calls.
func (b *builder) value(day calendar.Date) float64 {
	v := b.cashF
	next := b.actNext
	qty := b.actQty[:len(next)]
	px := b.actPx[:len(next)]
	ser := b.actSer[:len(next)]
	cur := b.actCur[:len(next)]
	for k := range next {
		if day >= next[k] {
			// Usually the next close is today's and the one after is later.
			s, c := ser[k], int(cur[k])+1
			if s != nil && c < len(s.dates) && s.dates[c] <= day && (c+1 == len(s.dates) || s.dates[c+1] > day) {
				cur[k], px[k], next[k] = int32(c), s.float(c), never
				if c+1 < len(s.dates) {
					next[k] = s.dates[c+1]
				}
			} else {
				b.advance(k, day)
			}
		}
		v += qty[k] * px[k]
	}
	return v
}

// advance moves active holding k to its last close on or before day.
func (b *builder) advance(k int, day calendar.Date) {
	s, c := b.actSer[k], int(b.actCur[k])
	if s != nil {
		for c+1 < len(s.dates) && s.dates[c+1] <= day {
			c++
		}
		b.actCur[k] = int32(c)
		b.actNext[k] = never
		if c+1 < len(s.dates) {
			b.actNext[k] = s.dates[c+1]
		}
		if c >= 0 {
			b.actPx[k] = s.float(c)
			return
		}
	}
	b.actPx[k], b.actNext[k] = b.hold[b.actHold[k]].tradePx, never
	if s != nil && len(s.dates) > 0 {
		b.actNext[k] = s.dates[0]
	}
	if h := &b.hold[b.actHold[k]]; !h.warn {
		h.warn = true
		w := Warning{Symbol: h.sym, Day: day}
		if b.fx != nil {
			if quote, ok := b.fx.quotedElsewhere[h.idx]; ok {
				w.CloseCurrency, w.TradeCurrency = quote, b.fx.cur[h.ccy].code
			}
		}
		b.s.Warnings = append(b.s.Warnings, w)
	}
}

func (b *builder) holding(sym string) *holding {
	i, ok := b.bySym[sym]
	if !ok {
		i = int32(len(b.hold))
		b.bySym[sym] = i
		b.hold = append(b.hold, holding{sym: sym, ser: b.closes.lookup(sym), cur: -1, slot: -1, idx: i})
	}
	return &b.hold[i]
}

// held updates the active columns after h.qty changed.
func (b *builder) held(h *holding) {
	held := !h.qty.isZero()
	switch {
	case held && h.slot < 0:
		h.slot = len(b.actHold)
		b.actHold = append(b.actHold, h.idx)
		b.actSer = append(b.actSer, h.ser)
		b.actCur = append(b.actCur, h.cur)
		b.actQty = append(b.actQty, 0)
		b.actPx = append(b.actPx, 0)
		b.actNext = append(b.actNext, math.MinInt32) // value looks its close up
		b.actCcy = append(b.actCcy, h.ccy)
		if b.fx != nil {
			b.actScale = append(b.actScale, b.fx.scaleOf(h))
		}
	case !held && h.slot >= 0:
		k, last := h.slot, len(b.actHold)-1
		h.cur = b.actCur[k]
		b.actHold[k], b.actSer[k], b.actCur[k] = b.actHold[last], b.actSer[last], b.actCur[last]
		b.actQty[k], b.actPx[k], b.actNext[k] = b.actQty[last], b.actPx[last], b.actNext[last]
		b.actCcy[k] = b.actCcy[last]
		if b.fx != nil {
			b.actScale[k], b.actScale = b.actScale[last], b.actScale[:last]
		}
		b.hold[b.actHold[k]].slot = k
		b.actHold, b.actSer, b.actCur = b.actHold[:last], b.actSer[:last], b.actCur[:last]
		b.actQty, b.actPx, b.actNext = b.actQty[:last], b.actPx[:last], b.actNext[:last]
		b.actCcy = b.actCcy[:last]
		h.slot = -1
	}
	if h.slot >= 0 {
		b.actQty[h.slot] = h.qty.float()
	}
}

// traded records a trade price; while the holding has no close in force, the
// price values it at once.
func (b *builder) traded(h *holding, px float64) {
	h.tradePx = px
	if h.slot >= 0 && b.actCur[h.slot] < 0 {
		b.actPx[h.slot] = px
	}
}

// apply replays one transaction; day is its index in the series, or −1 before it.
func (b *builder) apply(tx *portfolio.Transaction, day int) error {
	var v txNums
	readNums(tx, &v)
	var m txMoney // BuildFX: where tx's money goes and at what rate
	if b.fx != nil {
		if err := b.fx.money(tx, &v, &m); err != nil {
			return err
		}
		if tx.Type.IsTrade() {
			b.tradedIn(b.holding(tx.Symbol), m.ccy)
		}
	}
	switch tx.Type {
	case portfolio.Buy:
		h := b.holding(tx.Symbol)
		h.qty.add(&v.qty)
		b.held(h)
		b.traded(h, v.price.f)
	case portfolio.Sell:
		h := b.holding(tx.Symbol)
		if !h.qty.sell(&v.qty) {
			return fmt.Errorf("performance: %w: %s %s sells %s %s on %s but %s are held",
				portfolio.ErrInsufficientHoldings, tx.Type, tx.ID, tx.Quantity, tx.Symbol, tx.Date, h.qty.decimal())
		}
		b.held(h)
		b.traded(h, v.price.f)
	case portfolio.Split:
		if err := tx.Ratio.Validate(); err != nil {
			return fmt.Errorf("performance: split %s of %s on %s: %w", tx.ID, tx.Symbol, tx.Date, err)
		}
		if i, ok := b.bySym[tx.Symbol]; ok && !b.hold[i].qty.isZero() {
			h := &b.hold[i]
			h.qty.split(tx.Ratio)
			b.held(h)
			b.traded(h, h.tradePx*float64(tx.Ratio.Old)/float64(tx.Ratio.New))
		}
	case portfolio.Dividend, portfolio.Interest, portfolio.Fee, portfolio.Deposit, portfolio.Withdrawal, portfolio.Conversion:
	default:
		return fmt.Errorf("performance: %w: transaction %s has unknown type %q", portfolio.ErrInvalidTransaction, tx.ID, tx.Type)
	}

	if b.fx != nil {
		b.flowsFX(tx, &v, &m, day)
		return nil
	}
	if b.cashMode {
		b.cash.addTx(tx, &v, 0)
		// The float mirror accumulates, and snaps to the exact zero of an emptied
		// account.
		b.cashF += cashEffectFloat(tx.Type, &v)
		if b.cash.isZero() {
			b.cashF = 0
		}
		if day >= 0 {
			switch tx.Type {
			case portfolio.Deposit:
				b.s.Inflow[day] += v.amount.f
			case portfolio.Withdrawal:
				b.s.Outflow[day] += v.amount.f
			}
		}
		return nil
	}
	if day < 0 {
		return nil
	}
	if tx.Type == portfolio.Fee && len(b.actHold) == 0 {
		// Nothing is invested, so there is no return for the fee to lower: as a
		// flow it would read as a −100% day and zero the whole TWR.
		return nil
	}
	b.tradeFlow(netFlow(tx.Type, &v), day)
	return nil
}

// netFlow is what a transaction pays out to the investor (> 0) or takes in (< 0)
// when there is no cash account, in its own currency.
func netFlow(t portfolio.TxType, v *txNums) float64 {
	charges := v.fee.f + v.tax.f
	switch t {
	case portfolio.Buy:
		return -(v.qty.f*v.price.f + charges)
	case portfolio.Sell:
		return v.qty.f*v.price.f - charges
	case portfolio.Dividend, portfolio.Interest:
		return v.amount.f - charges
	case portfolio.Fee:
		return -(v.amount.f + charges)
	}
	return 0
}

// tradeFlow records a flow of the trades-only mode on series day index day.
func (b *builder) tradeFlow(net float64, day int) {
	if net > 0 {
		b.s.Outflow[day] += net
	} else {
		b.s.Inflow[day] -= net
	}
}

// cashEffectFloat is Transaction.CashEffect in float64, from the fields v.
func cashEffectFloat(t portfolio.TxType, v *txNums) float64 {
	var base float64
	switch t {
	case portfolio.Buy:
		base = -v.qty.f * v.price.f
	case portfolio.Sell:
		base = v.qty.f * v.price.f
	case portfolio.Dividend, portfolio.Interest, portfolio.Deposit:
		base = v.amount.f
	case portfolio.Fee, portfolio.Withdrawal, portfolio.Conversion:
		base = -v.amount.f
	}
	return base - v.fee.f - v.tax.f
}
