package performance

import (
	"fmt"
	"math"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// FX says how to value a history whose transactions and closes are in several
// currencies in one base currency: closes are in their symbol's quote currency
// (CloseCurrency), cash in each transaction's settlement currency, and Rates
// prices them in Base on each day (nil: no rates, every foreign figure falls back
// to its transactions' rates, with a warning).
type FX struct {
	Base  string
	Rates *currency.Rates
	// CloseCurrency is the currency a symbol's closes are quoted in (GBp for a
	// London listing); a symbol absent (or nil) has its closes in its trading
	// currency, the one its trades record.
	CloseCurrency map[string]string
}

// BuildFX is Build in fx.Base. A holding is worth quantity × close × the rate of
// its trading currency into the base on the day (a GBp close is pence: a
// hundredth of the GBP rate). A close quoted in another unit of the trading
// currency's settlement currency is converted exactly (a GBp close of a holding
// traded in GBP is a hundredth of a pound, a GBP close of one traded in GBp a
// hundred pence); closes quoted in another settlement currency (another
// listing's) are not its price: the holding is valued as one without closes, at
// its last trade price, and a Warning names both currencies. Cash is kept per settlement currency and is worth
// each balance × its rate on the day; a flow (a deposit, a withdrawal, or a trade
// without a cash account) counts at its transaction's own rate (FXRate, recorded
// on it), so the move of a rate after the money came in is return, not flow. A
// CONVERSION moves cash between currencies and is never a flow.
//
// On a day with no rate in force (Rates.Daily is NaN) a currency is valued at the
// rate of its latest transaction (a CONVERSION's incoming side at the rate the
// conversion implies), and reported once in Series.Warnings, as a symbol without a
// close is valued at its trade price.
//
// A history whose every transaction is in the base is Build's, at Build's speed.
// BuildFX fails where Build does, and on a transaction in another currency
// without an FXRate (portfolio.ErrFXRateRequired).
func BuildFX(txs []portfolio.Transaction, closes *Closes, fx FX, from, to calendar.Date) (*Series, error) {
	if !currency.IsISO(fx.Base) {
		return nil, fmt.Errorf("performance: base currency %q is not an ISO 4217 code", fx.Base)
	}
	// A trade in the base of a symbol whose closes are quoted in another currency
	// (GBp closes of a GBP trade in a GBP portfolio) is foreign too.
	var quotedElsewhere map[string]bool
	for sym, code := range fx.CloseCurrency {
		if code != "" && code != fx.Base {
			if quotedElsewhere == nil {
				quotedElsewhere = map[string]bool{}
			}
			quotedElsewhere[sym] = true
		}
	}
	foreign := false
	for i := range txs {
		t := &txs[i]
		if t.Currency != "" && t.Currency != fx.Base || t.Type == portfolio.Conversion && t.ToCurrency != fx.Base ||
			quotedElsewhere != nil && t.Type.IsTrade() && quotedElsewhere[t.Symbol] {
			foreign = true
			break
		}
	}
	if !foreign {
		return Build(txs, closes, from, to)
	}
	return buildSeries(txs, closes, newFXBook(fx), from, to)
}

// fxBook is BuildFX's state: an id per currency code met (0 is the base), each
// one's rate on the day being valued, and cash per settlement currency.
type fxBook struct {
	base  string
	rates *currency.Rates
	quote map[string]string // FX.CloseCurrency
	// By holding (its idx), the rare ones whose closes are not in their trading
	// currency (closesIn): the factor that makes a close one, or, when no factor
	// does, the currency the closes are in.
	closeScale      map[int32]float64
	quotedElsewhere map[int32]string
	first           calendar.Date // the day of every col[0]
	days            int
	ids             map[string]int32
	cur             []fxCurrency
	rt              []float64 // by id: the rate in force on the day valueFX last priced
	miss            []bool    // by id: rt is a fallback
}

// fxCurrency is one currency code: an ISO code, or a quote unit (GBp) whose rate
// is its settlement currency's times unit.
type fxCurrency struct {
	code   string
	settle int32   // id of the settlement currency (its own for an ISO code)
	unit   float64 // 1, or 0.01 for a quote unit
	shift  int32   // 0, or −2 for a quote unit
	// The rest is used on settlement currencies only.
	col    []float64 // the rate on each day from first, NaN where none (nil for the base)
	txRate float64   // the latest transaction's rate, 0 before any
	cash   cashSum
	cashF  float64
	warned bool
}

func newFXBook(fx FX) *fxBook {
	b := &fxBook{base: fx.Base, rates: fx.Rates, quote: fx.CloseCurrency, ids: map[string]int32{}}
	b.id(fx.Base)
	return b
}

// start sets the range of the rate columns (first..last) before any currency
// other than the base is met.
func (b *fxBook) start(first, last calendar.Date) {
	b.first, b.days = first, int(last-first)+1
}

// id returns the id of a currency code, adding it (and its settlement currency)
// with its daily rates.
func (b *fxBook) id(code string) int32 {
	if i, ok := b.ids[code]; ok {
		return i
	}
	settle, div := currency.Settlement(code)
	c := fxCurrency{code: code, unit: 1}
	if div != 1 {
		c.settle, c.unit, c.shift = b.id(settle), 1/float64(div), -2
	} else {
		c.settle = int32(len(b.cur))
		if code != b.base {
			c.col = b.daily(code)
		}
	}
	i := int32(len(b.cur))
	b.ids[code] = i
	b.cur = append(b.cur, c)
	b.rt = append(b.rt, 1)
	b.miss = append(b.miss, false)
	return i
}

func (b *fxBook) daily(code string) []float64 {
	if b.rates != nil {
		return b.rates.Daily(code, b.base, b.first, b.first+calendar.Date(b.days-1))
	}
	col := make([]float64, b.days)
	for i := range col {
		col[i] = math.NaN()
	}
	return col
}

// txMoney is where a transaction's money goes: the currency id of its amounts,
// the id of its settlement currency, the factor from the amounts to it (0.01 for
// pence), and the rate from it to the base on the trade date.
type txMoney struct {
	ccy, settle int32
	unit, rate  float64
	shift       int32
	to          int32 // CONVERSION: the id of ToCurrency
}

// money reads tx's currencies and rate, and keeps each settlement currency's
// latest transaction rate for the days without one.
func (b *fxBook) money(tx *portfolio.Transaction, v *txNums, m *txMoney) error {
	code := tx.Currency
	if code == "" {
		code = b.base // built in code without one (a provider's split): moves no money
	}
	m.ccy = b.id(code)
	c := &b.cur[m.ccy]
	m.settle, m.unit, m.shift, m.rate = c.settle, c.unit, c.shift, 1
	if m.settle != 0 {
		if !tx.FXRate.IsPositive() {
			if tx.Type == portfolio.Split && tx.Fee.IsZero() && tx.Tax.IsZero() {
				return nil
			}
			return fmt.Errorf("performance: %w: %s %s on %s is in %s, the series in %s, and has no fxRate",
				portfolio.ErrFXRateRequired, tx.Type, tx.ID, tx.Date, tx.Currency, b.base)
		}
		m.rate = toFloat(tx.FXRate)
		b.cur[m.settle].txRate = m.rate
	}
	if tx.Type == portfolio.Conversion {
		m.to = b.id(tx.ToCurrency)
		if m.to != 0 {
			// The rate the conversion implies for what came in: amount out in the base
			// per unit in.
			if in := toFloat(tx.ToAmount); in > 0 {
				b.cur[m.to].txRate = v.amount.f * m.rate / in
			}
		}
	}
	return nil
}

// tradedIn records the trading currency of a traded symbol, and how its closes
// price it in that currency (closesIn).
func (b *builder) tradedIn(h *holding, ccy int32) {
	if h.traded && h.ccy == ccy {
		return
	}
	h.traded, h.ccy = true, ccy
	b.closesIn(h)
	if k := h.slot; k >= 0 {
		b.actCcy[k], b.actSer[k], b.actScale[k] = ccy, h.ser, b.fx.scaleOf(h)
		b.actCur[k], b.actNext[k] = -1, math.MinInt32 // valueFX looks its close up again
	}
}

// closesIn sets how h's closes price it in its trading currency, as the API's
// valuation reads a latest price: a close in the trading currency as it is; one
// in another unit of the same settlement currency scaled exactly (GBp closes of a
// GBP holding × 0.01, GBP closes of a GBp one × 100: closeScale); one in another
// settlement currency not at all (h.ser nil, quotedElsewhere): the holding is
// valued as one without closes, at its last trade price, with a warning.
func (b *builder) closesIn(h *holding) {
	fx := b.fx
	h.ser, h.cur = b.closes.lookup(h.sym), -1
	delete(fx.closeScale, h.idx)
	delete(fx.quotedElsewhere, h.idx)
	quote, traded := fx.quote[h.sym], fx.cur[h.ccy].code
	if h.ser == nil || quote == "" || quote == traded {
		return
	}
	qs, qd := currency.Settlement(quote)
	ts, td := currency.Settlement(traded)
	if qs != ts {
		h.ser = nil
		if fx.quotedElsewhere == nil {
			fx.quotedElsewhere = map[int32]string{}
		}
		fx.quotedElsewhere[h.idx] = quote
		return
	}
	if fx.closeScale == nil {
		fx.closeScale = map[int32]float64{}
	}
	fx.closeScale[h.idx] = float64(td) / float64(qd)
}

// scaleOf is what h's closes are multiplied by to be in its trading currency.
func (b *fxBook) scaleOf(h *holding) float64 {
	if f, ok := b.closeScale[h.idx]; ok {
		return f
	}
	return 1
}

// flowsFX is apply's money part for BuildFX: cash per settlement currency with a
// cash account, flows at the transaction's rate.
func (b *builder) flowsFX(tx *portfolio.Transaction, v *txNums, m *txMoney, day int) {
	fx := b.fx
	if b.cashMode {
		c := &fx.cur[m.settle]
		c.cash.addTx(tx, v, m.shift)
		c.cashF += cashEffectFloat(tx.Type, v) * m.unit
		if c.cash.isZero() {
			c.cashF = 0
		}
		if tx.Type == portfolio.Conversion {
			in := &fx.cur[m.to]
			n := newNum(tx.ToAmount)
			in.cash.addNum(&n, 0, false)
			in.cashF += n.f
			if in.cash.isZero() {
				in.cashF = 0
			}
		}
		if day >= 0 {
			switch tx.Type {
			case portfolio.Deposit:
				b.s.Inflow[day] += v.amount.f * m.unit * m.rate
			case portfolio.Withdrawal:
				b.s.Outflow[day] += v.amount.f * m.unit * m.rate
			}
		}
		return
	}
	if day < 0 || tx.Type == portfolio.Fee && len(b.actHold) == 0 {
		return // as in apply
	}
	b.tradeFlow(netFlow(tx.Type, v)*m.unit*m.rate, day)
}

// price sets each currency's rate on day: the rate in force, else the latest
// transaction's (miss).
func (b *fxBook) price(day calendar.Date) {
	di := int(day - b.first)
	for i := 1; i < len(b.cur); i++ {
		c := &b.cur[i]
		if c.settle != int32(i) {
			b.rt[i], b.miss[i] = b.rt[c.settle]*c.unit, b.miss[c.settle]
			continue
		}
		if r := c.col[di]; r == r { // not NaN
			b.rt[i], b.miss[i] = r, false
		} else {
			b.rt[i], b.miss[i] = c.txRate, true
		}
	}
}

// missed reports, once per currency, a currency needed on day without a rate.
func (b *builder) missed(id int32, day calendar.Date) {
	fx := b.fx
	c := &fx.cur[fx.cur[id].settle]
	if !c.warned {
		c.warned = true
		b.s.Warnings = append(b.s.Warnings, Warning{Currency: c.code, Base: fx.base, Day: day})
	}
}

// valueFX is value for BuildFX: every holding and balance times its currency's
// rate on day. Its walk of the closes repeats value's on purpose: it is the
// series' hot loop (holdings × days), and a shared step would cost a call per
// holding per day on the single-currency path too.
func (b *builder) valueFX(day calendar.Date) float64 {
	fx := b.fx
	fx.price(day)
	var v float64
	for i := range fx.cur {
		c := &fx.cur[i]
		if c.cashF != 0 {
			v += c.cashF * fx.rt[i]
			if fx.miss[i] {
				b.missed(int32(i), day)
			}
		}
	}
	next := b.actNext
	qty := b.actQty[:len(next)]
	px := b.actPx[:len(next)]
	ser := b.actSer[:len(next)]
	cur := b.actCur[:len(next)]
	ccy := b.actCcy[:len(next)]
	scale := b.actScale[:len(next)]
	for k := range next {
		if day >= next[k] {
			s, c := ser[k], int(cur[k])+1
			if s != nil && c < len(s.dates) && s.dates[c] <= day && (c+1 == len(s.dates) || s.dates[c+1] > day) {
				cur[k], px[k], next[k] = int32(c), s.float(c)*scale[k], never
				if c+1 < len(s.dates) {
					next[k] = s.dates[c+1]
				}
			} else if b.advance(k, day); cur[k] >= 0 {
				px[k] *= scale[k] // a close, not the trade price
			}
		}
		v += qty[k] * px[k] * fx.rt[ccy[k]]
		if fx.miss[ccy[k]] {
			b.missed(ccy[k], day)
		}
	}
	return v
}
