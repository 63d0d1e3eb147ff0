package lots

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// MoneyScale is the number of decimal places kept when a division produces money:
// the cost basis taken by a partial sell, and per-share costs.
const MoneyScale int32 = 10

// compactMin is the number of consumed FIFO lots a queue tolerates at its head
// before it is compacted (it is also compacted when it empties).
const compactMin = 32

// Book is the running state of one portfolio under one lot method. It keeps its
// figures in an internal exact fixed-point form (num) whose arithmetic allocates
// nothing while coefficients fit in 64 bits, and converts them to decimal.Decimal
// when they are read.
type Book struct {
	method    portfolio.LotMethod
	positions map[string]*position
	sorted    []*position // the positions, by symbol

	costBasis   num
	realized    num
	fees        num
	taxes       num
	dividends   num
	interest    num
	charges     num
	deposits    num
	withdrawals num
	cash        num

	realizations []realization

	applied bool                  // whether prev holds a transaction
	prev    portfolio.Transaction // Date, Type and Seq of the last applied transaction
}

// position is the mutable state of one symbol. Quantity and costBasis always equal
// the sums over the open lots.
type position struct {
	symbol    string
	quantity  num
	qdec      decimal.Decimal // quantity as a decimal, for ApplySell and readers
	costBasis num
	realized  num
	fees      num
	taxes     num
	dividends num

	// FIFO: lots[head:] are the open lots, oldest first.
	lots []lot
	head int
	// AverageCost: the pooled lot is {opened, quantity, costBasis}; opened is the
	// date of the first buy since the position was last empty.
	opened calendar.Date
}

type lot struct {
	date      calendar.Date
	quantity  num
	costBasis num
}

type realization struct {
	txID, symbol string
	date         calendar.Date
	quantity     decimal.Decimal
	proceeds     num
	costBasis    num
	pnl          num
}

// New returns an empty book. It panics if method is neither portfolio.FIFO nor
// portfolio.AverageCost: parse user input with portfolio.ParseLotMethod first.
func New(method portfolio.LotMethod) *Book {
	if method != portfolio.FIFO && method != portfolio.AverageCost {
		panic(fmt.Sprintf("lots.New: unknown lot method %q", method))
	}
	return &Book{method: method, positions: make(map[string]*position)}
}

// Method returns the book's lot method.
func (b *Book) Method() portfolio.LotMethod { return b.method }

// Apply folds one transaction into the book. Transactions must arrive in
// portfolio.SortForReplay order; one that compares before its predecessor under
// portfolio.CompareForReplay is refused. Apply checks the fields its arithmetic
// relies on (see check) but not currency or symbol format, which are
// portfolio.Transaction.Validate's business. An oversell wraps
// portfolio.ErrInsufficientHoldings; anything else refused wraps
// portfolio.ErrInvalidTransaction. On error the book is unchanged.
func (b *Book) Apply(tx *portfolio.Transaction) error {
	if err := b.check(tx); err != nil {
		return err
	}
	fee, tax := fromDec(tx.Fee), fromDec(tx.Tax)
	switch tx.Type {
	case portfolio.Buy:
		b.buy(tx, fee, tax)
	case portfolio.Sell:
		if err := b.sell(tx, fee, tax); err != nil {
			return err
		}
	case portfolio.Split:
		p := b.position(tx.Symbol)
		b.split(p, tx.Ratio)
		b.charge(p, fee, tax)
	case portfolio.Dividend:
		amount := fromDec(tx.Amount)
		p := b.position(tx.Symbol)
		p.dividends = p.dividends.add(amount)
		b.dividends = b.dividends.add(amount)
		b.cash = b.cash.add(amount)
		b.charge(p, fee, tax)
	case portfolio.Interest:
		amount := fromDec(tx.Amount)
		b.interest = b.interest.add(amount)
		b.cash = b.cash.add(amount)
		b.charge(nil, fee, tax)
	case portfolio.Deposit:
		amount := fromDec(tx.Amount)
		b.deposits = b.deposits.add(amount)
		b.cash = b.cash.add(amount)
		b.charge(nil, fee, tax)
	case portfolio.Fee:
		amount := fromDec(tx.Amount)
		var p *position
		if tx.Symbol != "" {
			p = b.position(tx.Symbol)
			p.fees = p.fees.add(amount)
		}
		b.fees = b.fees.add(amount)
		b.charges = b.charges.add(amount)
		b.cash = b.cash.sub(amount)
		b.charge(p, fee, tax)
	case portfolio.Withdrawal:
		amount := fromDec(tx.Amount)
		b.withdrawals = b.withdrawals.add(amount)
		b.cash = b.cash.sub(amount)
		b.charge(nil, fee, tax)
	}
	b.applied = true
	b.prev.Date, b.prev.Type, b.prev.Seq = tx.Date, tx.Type, tx.Seq
	return nil
}

// check refuses what would break the book's invariants or replay order. It mirrors
// the type rules of portfolio.Transaction.Validate.
func (b *Book) check(tx *portfolio.Transaction) error {
	if tx.Fee.IsNegative() || tx.Tax.IsNegative() {
		return invalid(tx, "fee %s and tax %s must not be negative", tx.Fee, tx.Tax)
	}
	switch tx.Type {
	case portfolio.Buy, portfolio.Sell:
		if tx.Symbol == "" {
			return invalid(tx, "a trade needs a symbol")
		}
		if !tx.Quantity.IsPositive() || !tx.Price.IsPositive() {
			return invalid(tx, "quantity %s and price %s must be positive", tx.Quantity, tx.Price)
		}
	case portfolio.Split:
		if tx.Symbol == "" {
			return invalid(tx, "a split needs a symbol")
		}
		if tx.Ratio.Validate() != nil || tx.Ratio.New == tx.Ratio.Old {
			return invalid(tx, "split ratio %s must have positive, different sides", tx.Ratio)
		}
	case portfolio.Dividend, portfolio.Interest, portfolio.Fee, portfolio.Deposit, portfolio.Withdrawal:
		if tx.Type == portfolio.Dividend && tx.Symbol == "" {
			return invalid(tx, "a dividend needs a symbol")
		}
		if (tx.Type == portfolio.Deposit || tx.Type == portfolio.Withdrawal) && tx.Symbol != "" {
			return invalid(tx, "a %s takes no symbol", tx.Type)
		}
		if !tx.Amount.IsPositive() {
			return invalid(tx, "amount %s must be positive", tx.Amount)
		}
	default:
		return invalid(tx, "unknown type")
	}
	if b.applied && portfolio.CompareForReplay(&b.prev, tx) > 0 {
		return invalid(tx, "out of replay order: it sorts before the previous transaction (%s on %s, seq %d); apply transactions in portfolio.SortForReplay order",
			b.prev.Type, b.prev.Date, b.prev.Seq)
	}
	return nil
}

func invalid(tx *portfolio.Transaction, format string, args ...any) error {
	return fmt.Errorf("%w: transaction %q (%s %s on %s): %s", portfolio.ErrInvalidTransaction,
		tx.ID, tx.Type, tx.Symbol, tx.Date, fmt.Sprintf(format, args...))
}

func (b *Book) buy(tx *portfolio.Transaction, fee, tax num) {
	qty := fromDec(tx.Quantity)
	cost := qty.mul(fromDec(tx.Price)).add(fee).add(tax)
	p := b.position(tx.Symbol)
	if b.method == portfolio.FIFO {
		p.lots = append(p.lots, lot{date: tx.Date, quantity: qty, costBasis: cost})
	} else if p.quantity.isZero() && p.costBasis.isZero() {
		p.opened = tx.Date
	}
	if p.quantity.isZero() {
		p.quantity, p.qdec = qty, tx.Quantity
	} else {
		p.quantity = p.quantity.add(qty)
		p.qdec = p.quantity.dec()
	}
	p.costBasis = p.costBasis.add(cost)
	b.costBasis = b.costBasis.add(cost)
	b.cash = b.cash.sub(cost)
	b.tradeCharges(p, fee, tax)
}

func (b *Book) sell(tx *portfolio.Transaction, fee, tax num) error {
	p := b.positions[tx.Symbol]
	held := decimal.Zero
	if p != nil {
		held = p.qdec
	}
	leftDec, ok := portfolio.ApplySell(held, tx.Quantity)
	if !ok {
		return fmt.Errorf("%w: selling %s %s on %s, but only %s held", portfolio.ErrInsufficientHoldings,
			tx.Quantity, tx.Symbol, tx.Date, held)
	}
	if p == nil {
		p = b.position(tx.Symbol) // a dust sell of nothing: still a traded symbol
	}
	qty, left := fromDec(tx.Quantity), fromDec(leftDec)

	var consumed num
	switch {
	case left.isZero():
		consumed = p.costBasis
		clear(p.lots)
		p.lots, p.head = p.lots[:0], 0
		p.costBasis = num{}
	case b.method == portfolio.AverageCost:
		consumed = proportion(p.costBasis, qty, p.quantity)
		p.costBasis = p.costBasis.sub(consumed)
	default:
		consumed = p.consumeFIFO(qty)
		p.costBasis = p.costBasis.sub(consumed)
	}
	p.quantity, p.qdec = left, leftDec

	proceeds := qty.mul(fromDec(tx.Price)).sub(fee).sub(tax)
	pnl := proceeds.sub(consumed)
	p.realized = p.realized.add(pnl)
	b.realized = b.realized.add(pnl)
	b.costBasis = b.costBasis.sub(consumed)
	b.cash = b.cash.add(proceeds)
	b.tradeCharges(p, fee, tax)
	b.realizations = append(b.realizations, realization{
		txID: tx.ID, symbol: tx.Symbol, date: tx.Date, quantity: tx.Quantity,
		proceeds: proceeds, costBasis: consumed, pnl: pnl,
	})
	return nil
}

// consumeFIFO removes qty shares, oldest lots first, and returns their cost basis.
// The caller guarantees qty is less than the position's quantity.
func (p *position) consumeFIFO(qty num) num {
	var consumed num
	remaining := qty
	for remaining.sign() > 0 && p.head < len(p.lots) {
		l := &p.lots[p.head]
		if remaining.cmp(l.quantity) >= 0 {
			consumed = consumed.add(l.costBasis)
			remaining = remaining.sub(l.quantity)
			*l = lot{}
			p.head++
			continue
		}
		part := proportion(l.costBasis, remaining, l.quantity)
		l.quantity = l.quantity.sub(remaining)
		l.costBasis = l.costBasis.sub(part)
		consumed = consumed.add(part)
		break
	}
	switch {
	case p.head == len(p.lots):
		p.lots, p.head = p.lots[:0], 0
	case p.head >= compactMin && 2*p.head >= len(p.lots):
		n := copy(p.lots, p.lots[p.head:])
		clear(p.lots[n:])
		p.lots, p.head = p.lots[:n], 0
	}
	return consumed
}

// split scales every open lot by the ratio; the position's quantity is their sum.
func (b *Book) split(p *position, r portfolio.Ratio) {
	if b.method == portfolio.FIFO {
		var total num
		for i := p.head; i < len(p.lots); i++ {
			p.lots[i].quantity = fromDec(r.Apply(p.lots[i].quantity.dec()))
			total = total.add(p.lots[i].quantity)
		}
		p.quantity = total
	} else if !p.quantity.isZero() {
		p.quantity = fromDec(r.Apply(p.qdec))
	}
	p.qdec = p.quantity.dec()
}

// tradeCharges records a trade's fee and tax, which are already inside its cost
// basis or proceeds.
func (b *Book) tradeCharges(p *position, fee, tax num) {
	p.fees, b.fees = p.fees.add(fee), b.fees.add(fee)
	p.taxes, b.taxes = p.taxes.add(tax), b.taxes.add(tax)
}

// charge records a non-trade transaction's fee and tax: paid from cash, counted as
// fees and taxes (of the position too when p is not nil) and as charges.
func (b *Book) charge(p *position, fee, tax num) {
	if fee.isZero() && tax.isZero() {
		return
	}
	if p != nil {
		p.fees, p.taxes = p.fees.add(fee), p.taxes.add(tax)
	}
	b.fees, b.taxes = b.fees.add(fee), b.taxes.add(tax)
	both := fee.add(tax)
	b.charges = b.charges.add(both)
	b.cash = b.cash.sub(both)
}

// position returns the symbol's state, creating it.
func (b *Book) position(symbol string) *position {
	if p := b.positions[symbol]; p != nil {
		return p
	}
	p := &position{symbol: symbol, qdec: decimal.Zero}
	b.positions[symbol] = p
	i, _ := slices.BinarySearchFunc(b.sorted, symbol, func(q *position, s string) int { return strings.Compare(q.symbol, s) })
	b.sorted = slices.Insert(b.sorted, i, p)
	return p
}

// Positions returns every symbol the book has seen on a trade, dividend, split or
// FEE, sorted by symbol; closed positions are included with Quantity zero.
func (b *Book) Positions() []Position {
	n := 0
	for _, p := range b.sorted {
		n += p.openLots(b.method)
	}
	lotBuf := make([]Lot, 0, n)
	out := make([]Position, 0, len(b.sorted))
	for _, p := range b.sorted {
		var pos Position
		pos, lotBuf = p.export(b.method, lotBuf)
		out = append(out, pos)
	}
	return out
}

// Position returns one symbol's position, and false if the book has not seen it.
func (b *Book) Position(symbol string) (Position, bool) {
	p := b.positions[symbol]
	if p == nil {
		return Position{}, false
	}
	pos, _ := p.export(b.method, make([]Lot, 0, p.openLots(b.method)))
	return pos, true
}

// Quantity returns the shares held of symbol (zero if none). It does not allocate.
func (b *Book) Quantity(symbol string) decimal.Decimal {
	if p := b.positions[symbol]; p != nil {
		return p.qdec
	}
	return decimal.Zero
}

// Holdings yields each open position (non-zero quantity) as symbol and quantity, in
// symbol order, without allocating. The book must not be changed during the loop.
func (b *Book) Holdings() iter.Seq2[string, decimal.Decimal] {
	return func(yield func(string, decimal.Decimal) bool) {
		for _, p := range b.sorted {
			if p.quantity.isZero() {
				continue
			}
			if !yield(p.symbol, p.qdec) {
				return
			}
		}
	}
}

// Summary returns the portfolio-level totals.
func (b *Book) Summary() Summary {
	return Summary{
		CostBasis:   b.costBasis.dec(),
		RealizedPnL: b.realized.dec(),
		Fees:        b.fees.dec(),
		Taxes:       b.taxes.dec(),
		Dividends:   b.dividends.dec(),
		Interest:    b.interest.dec(),
		Charges:     b.charges.dec(),
		Deposits:    b.deposits.dec(),
		Withdrawals: b.withdrawals.dec(),
		Cash:        b.cash.dec(),
	}
}

// Realizations returns one entry per applied sell, in the order applied.
func (b *Book) Realizations() []Realization {
	out := make([]Realization, len(b.realizations))
	for i, r := range b.realizations {
		out[i] = Realization{
			TxID: r.txID, Symbol: r.symbol, Date: r.date, Quantity: r.quantity,
			Proceeds: r.proceeds.dec(), CostBasis: r.costBasis.dec(), PnL: r.pnl.dec(),
		}
	}
	return out
}

// openLots returns how many lots export will copy.
func (p *position) openLots(method portfolio.LotMethod) int {
	switch {
	case method == portfolio.FIFO:
		return len(p.lots) - p.head
	case p.quantity.isZero() && p.costBasis.isZero():
		return 0
	}
	return 1
}

// export copies the position out, appending its lots to buf (whose capacity the
// caller has sized) and returning the rest of buf.
func (p *position) export(method portfolio.LotMethod, buf []Lot) (Position, []Lot) {
	start := len(buf)
	costBasis := p.costBasis.dec()
	if method == portfolio.FIFO {
		for _, l := range p.lots[p.head:] {
			buf = append(buf, Lot{Date: l.date, Quantity: l.quantity.dec(), CostBasis: l.costBasis.dec()})
		}
	} else if !p.quantity.isZero() || !p.costBasis.isZero() {
		buf = append(buf, Lot{Date: p.opened, Quantity: p.qdec, CostBasis: costBasis})
	}
	var lots []Lot
	if len(buf) > start {
		lots = buf[start:len(buf):len(buf)]
	}
	return Position{
		Symbol:      p.symbol,
		Quantity:    p.qdec,
		CostBasis:   costBasis,
		RealizedPnL: p.realized.dec(),
		Fees:        p.fees.dec(),
		Taxes:       p.taxes.dec(),
		Dividends:   p.dividends.dec(),
		Lots:        lots,
	}, buf
}

// proportion returns cost × part / whole rounded to MoneyScale, never more than cost.
func proportion(cost, part, whole num) num {
	if cost.isZero() {
		return num{}
	}
	x := cost.mul(part).divRound(whole, MoneyScale)
	if x.cmp(cost) > 0 {
		return cost
	}
	return x
}
