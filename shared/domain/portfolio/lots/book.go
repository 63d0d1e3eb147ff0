package lots

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
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
	base      string // the currency every figure but the local ones is in
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
	cash        num            // in base, at each transaction's own rate
	balances    map[string]num // cash per settlement currency
	currencies  []string       // the keys of balances, sorted

	realizations []realization

	applied bool                  // whether prev holds a transaction
	prev    portfolio.Transaction // Date, Type and Seq of the last applied transaction
}

// position is the mutable state of one symbol. Quantity and costBasis always equal
// the sums over the open lots.
type position struct {
	symbol    string
	currency  string // of the symbol's trades, as recorded (GBp for pence); "" before the first
	quantity  num
	qdec      decimal.Decimal // quantity as a decimal, for ApplySell and readers
	costBasis num
	realized  num
	fees      num
	taxes     num
	dividends num
	// In the settlement currency of the symbol's trades (GBP for GBp).
	localCost     num
	localRealized num
	// The fees, taxes and dividends settled in that currency (settle, set by the
	// first trade). Until apart is set they equal the base figures and are not
	// kept: the position settles in the base and nothing has been excluded.
	local    income
	apart    bool
	traded   bool
	settle   string
	excluded int           // income transactions in another settlement currency
	early    []earlyIncome // before the first trade, per settlement currency

	// FIFO: lots[head:] are the open lots, oldest first.
	lots []lot
	head int
	// AverageCost: the pooled lot is {opened, quantity, costBasis}; opened is the
	// date of the first buy since the position was last empty.
	opened calendar.Date
}

// income is a position's fees, taxes and dividends in one currency.
type income struct{ fees, taxes, dividends num }

// earlyIncome is the income of a symbol not yet traded in one settlement
// currency, and how many transactions brought it: the first trade decides
// whether it is local or excluded.
type earlyIncome struct {
	settle string
	n      int
	income
}

type lot struct {
	date      calendar.Date
	quantity  num
	costBasis num
	localCost num
}

type realization struct {
	txID, symbol string
	date         calendar.Date
	quantity     decimal.Decimal
	proceeds     num
	costBasis    num
	pnl          num
	localPnL     num
}

// New returns an empty book whose figures are in base. It panics if method is
// neither portfolio.FIFO nor portfolio.AverageCost (parse user input with
// portfolio.ParseLotMethod first) or base is not an ISO 4217 code.
func New(method portfolio.LotMethod, base string) *Book {
	if method != portfolio.FIFO && method != portfolio.AverageCost {
		panic(fmt.Sprintf("lots.New: unknown lot method %q", method))
	}
	if !currency.IsISO(base) {
		panic(fmt.Sprintf("lots.New: base currency %q is not an ISO 4217 code", base))
	}
	return &Book{method: method, base: base, positions: make(map[string]*position), balances: make(map[string]num)}
}

// Base returns the book's base currency.
func (b *Book) Base() string { return b.base }

// conv converts one transaction's amounts: to its settlement currency (pence to
// pounds) and on to the base at the transaction's rate. Same-currency
// transactions skip both multiplications.
type conv struct {
	settle  string
	minor   bool // amounts are hundredths of settle
	foreign bool // settle is not the base
	rate    num
}

var hundredth = mk(1, -2)

func (c *conv) local(x num) num {
	if c.minor {
		return x.mul(hundredth)
	}
	return x
}

func (c *conv) base(localAmount num) num {
	if c.foreign {
		return localAmount.mul(c.rate)
	}
	return localAmount
}

// convOf reads a transaction's currency and rate; a transaction in another
// currency than the base without a rate is refused.
func (b *Book) convOf(tx *portfolio.Transaction) (conv, error) {
	if tx.Currency == "" || (tx.Type == portfolio.Split && tx.Fee.IsZero() && tx.Tax.IsZero()) {
		// Moves no money, or was built in code without one (a split the provider
		// reported): nothing to convert. Validate refuses an empty currency on
		// anything recorded.
		return conv{settle: b.base}, nil
	}
	settle, div := currency.Settlement(tx.Currency)
	c := conv{settle: settle, minor: div != 1, foreign: settle != b.base}
	if c.foreign {
		if !tx.FXRate.IsPositive() {
			return c, fmt.Errorf("%w: %v", portfolio.ErrFXRateRequired, invalid(tx, "in %s, the book in %s, and no fxRate", tx.Currency, b.base))
		}
		c.rate = fromDec(tx.FXRate)
	}
	return c, nil
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
	c, err := b.convOf(tx)
	if err != nil {
		return err
	}
	if tx.Type.IsTrade() {
		if p := b.positions[tx.Symbol]; p != nil && p.currency != "" && tx.Currency != "" && p.currency != tx.Currency {
			return fmt.Errorf("%w: %v", portfolio.ErrCurrencyMismatch, invalid(tx, "%s trades in %s in this book", tx.Symbol, p.currency))
		}
	}
	fee, tax := fromDec(tx.Fee), fromDec(tx.Tax)
	switch tx.Type {
	case portfolio.Buy:
		b.buy(tx, &c, fee, tax)
	case portfolio.Sell:
		if err := b.sell(tx, &c, fee, tax); err != nil {
			return err
		}
	case portfolio.Split:
		p := b.position(tx.Symbol)
		b.split(p, tx.Ratio)
		var in *income
		if !fee.isZero() || !tax.isZero() {
			in = b.localIncome(p, &c)
		}
		b.charge(p, in, &c, fee, tax)
	case portfolio.Dividend:
		local := c.local(fromDec(tx.Amount))
		amount := c.base(local)
		p := b.position(tx.Symbol)
		in := b.localIncome(p, &c)
		if in != nil {
			in.dividends = in.dividends.add(local)
		}
		p.dividends = p.dividends.add(amount)
		b.dividends = b.dividends.add(amount)
		b.move(&c, local, amount)
		b.charge(p, in, &c, fee, tax)
	case portfolio.Interest:
		local := c.local(fromDec(tx.Amount))
		amount := c.base(local)
		b.interest = b.interest.add(amount)
		b.move(&c, local, amount)
		b.charge(nil, nil, &c, fee, tax)
	case portfolio.Deposit:
		local := c.local(fromDec(tx.Amount))
		amount := c.base(local)
		b.deposits = b.deposits.add(amount)
		b.move(&c, local, amount)
		b.charge(nil, nil, &c, fee, tax)
	case portfolio.Fee:
		local := c.local(fromDec(tx.Amount))
		amount := c.base(local)
		var p *position
		var in *income
		if tx.Symbol != "" {
			p = b.position(tx.Symbol)
			if in = b.localIncome(p, &c); in != nil {
				in.fees = in.fees.add(local)
			}
			p.fees = p.fees.add(amount)
		}
		b.fees = b.fees.add(amount)
		b.charges = b.charges.add(amount)
		b.move(&c, local.neg(), amount.neg())
		b.charge(p, in, &c, fee, tax)
	case portfolio.Withdrawal:
		local := c.local(fromDec(tx.Amount))
		amount := c.base(local)
		b.withdrawals = b.withdrawals.add(amount)
		b.move(&c, local.neg(), amount.neg())
		b.charge(nil, nil, &c, fee, tax)
	case portfolio.Conversion:
		// Cash changes currency; in the base, at the outgoing side's rate, nothing
		// moves but the charges.
		b.moveLocal(tx.Currency, fromDec(tx.Amount).neg())
		b.moveLocal(tx.ToCurrency, fromDec(tx.ToAmount))
		b.charge(nil, nil, &c, fee, tax)
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
	case portfolio.Dividend, portfolio.Interest, portfolio.Fee, portfolio.Deposit, portfolio.Withdrawal, portfolio.Conversion:
		if tx.Type == portfolio.Conversion && (!tx.ToAmount.IsPositive() || !currency.IsISO(tx.ToCurrency) || tx.ToCurrency == tx.Currency) {
			return invalid(tx, "a conversion needs a positive toAmount in another currency")
		}
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

func (b *Book) buy(tx *portfolio.Transaction, c *conv, fee, tax num) {
	qty := fromDec(tx.Quantity)
	local := c.local(qty.mul(fromDec(tx.Price)).add(fee).add(tax))
	cost := c.base(local)
	p := b.position(tx.Symbol)
	if tx.Currency != "" {
		p.currency = tx.Currency
	}
	b.firstTrade(p, c)
	if b.method == portfolio.FIFO {
		p.lots = append(p.lots, lot{date: tx.Date, quantity: qty, costBasis: cost, localCost: local})
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
	p.localCost = p.localCost.add(local)
	b.costBasis = b.costBasis.add(cost)
	b.move(c, local.neg(), cost.neg())
	b.tradeCharges(p, c, fee, tax)
}

func (b *Book) sell(tx *portfolio.Transaction, c *conv, fee, tax num) error {
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
	if tx.Currency != "" {
		p.currency = tx.Currency
	}
	b.firstTrade(p, c)
	qty, left := fromDec(tx.Quantity), fromDec(leftDec)

	var consumed, consumedLocal num
	switch {
	case left.isZero():
		consumed, consumedLocal = p.costBasis, p.localCost
		clear(p.lots)
		p.lots, p.head = p.lots[:0], 0
		p.costBasis, p.localCost = num{}, num{}
	case b.method == portfolio.AverageCost:
		consumed = proportion(p.costBasis, qty, p.quantity)
		consumedLocal = consumed
		if c.foreign || c.minor || !p.localCost.equal(p.costBasis) {
			consumedLocal = proportion(p.localCost, qty, p.quantity)
		}
		p.costBasis = p.costBasis.sub(consumed)
		p.localCost = p.localCost.sub(consumedLocal)
	default:
		consumed, consumedLocal = p.consumeFIFO(qty)
		p.costBasis = p.costBasis.sub(consumed)
		p.localCost = p.localCost.sub(consumedLocal)
	}
	p.quantity, p.qdec = left, leftDec

	proceedsLocal := c.local(qty.mul(fromDec(tx.Price)).sub(fee).sub(tax))
	proceeds := c.base(proceedsLocal)
	pnl := proceeds.sub(consumed)
	localPnL := proceedsLocal.sub(consumedLocal)
	p.realized = p.realized.add(pnl)
	p.localRealized = p.localRealized.add(localPnL)
	b.realized = b.realized.add(pnl)
	b.costBasis = b.costBasis.sub(consumed)
	b.move(c, proceedsLocal, proceeds)
	b.tradeCharges(p, c, fee, tax)
	b.realizations = append(b.realizations, realization{
		txID: tx.ID, symbol: tx.Symbol, date: tx.Date, quantity: tx.Quantity,
		proceeds: proceeds, costBasis: consumed, pnl: pnl, localPnL: localPnL,
	})
	return nil
}

// consumeFIFO removes qty shares, oldest lots first, and returns their cost basis
// in the base and in the local currency. The caller guarantees qty is less than
// the position's quantity.
func (p *position) consumeFIFO(qty num) (consumed, consumedLocal num) {
	remaining := qty
	for remaining.sign() > 0 && p.head < len(p.lots) {
		l := &p.lots[p.head]
		if remaining.cmp(l.quantity) >= 0 {
			consumed = consumed.add(l.costBasis)
			consumedLocal = consumedLocal.add(l.localCost)
			remaining = remaining.sub(l.quantity)
			*l = lot{}
			p.head++
			continue
		}
		part := proportion(l.costBasis, remaining, l.quantity)
		partLocal := part
		if !l.localCost.equal(l.costBasis) {
			partLocal = proportion(l.localCost, remaining, l.quantity)
		}
		l.quantity = l.quantity.sub(remaining)
		l.costBasis = l.costBasis.sub(part)
		l.localCost = l.localCost.sub(partLocal)
		consumed = consumed.add(part)
		consumedLocal = consumedLocal.add(partLocal)
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
	return consumed, consumedLocal
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

// firstTrade fixes the currency of a position's local figures at its first
// trade's settlement currency: the income it had before in that currency becomes
// local, the rest excluded.
func (b *Book) firstTrade(p *position, c *conv) {
	if p.traded {
		return
	}
	p.traded, p.settle, p.apart = true, c.settle, c.foreign
	for _, e := range p.early {
		if e.settle == c.settle {
			p.local = e.income
		} else {
			p.excluded += e.n
			p.apart = true
		}
	}
	p.early = nil
}

// localIncome returns where a dividend's, fee's or tax's amounts on p, settling
// as c, go in the local figures: nil when they are not kept apart from the base
// figures (a position settling in the base with nothing excluded: the cheap,
// common case) or are excluded (another settlement currency, counted). Call it
// once per transaction, before the base figures are added to.
func (b *Book) localIncome(p *position, c *conv) *income {
	if !p.traded {
		for i := range p.early {
			if p.early[i].settle == c.settle {
				p.early[i].n++
				return &p.early[i].income
			}
		}
		p.early = append(p.early, earlyIncome{settle: c.settle, n: 1})
		return &p.early[len(p.early)-1].income
	}
	if c.settle != p.settle {
		if !p.apart {
			p.apart, p.local = true, income{fees: p.fees, taxes: p.taxes, dividends: p.dividends}
		}
		p.excluded++
		return nil
	}
	if !p.apart {
		return nil
	}
	return &p.local
}

// tradeCharges records a trade's fee and tax (in the base), which are already
// inside its cost basis or proceeds.
func (b *Book) tradeCharges(p *position, c *conv, fee, tax num) {
	if fee.isZero() && tax.isZero() {
		return
	}
	localFee, localTax := c.local(fee), c.local(tax)
	if p.apart {
		p.local.fees, p.local.taxes = p.local.fees.add(localFee), p.local.taxes.add(localTax)
	}
	fee, tax = c.base(localFee), c.base(localTax)
	p.fees, b.fees = p.fees.add(fee), b.fees.add(fee)
	p.taxes, b.taxes = p.taxes.add(tax), b.taxes.add(tax)
}

// charge records a non-trade transaction's fee and tax: paid from cash, counted as
// fees and taxes (of the position too when p is not nil, and of in, its local
// figures, when not nil) and as charges.
func (b *Book) charge(p *position, in *income, c *conv, fee, tax num) {
	if fee.isZero() && tax.isZero() {
		return
	}
	localFee, localTax := c.local(fee), c.local(tax)
	local := localFee.add(localTax)
	if in != nil {
		in.fees, in.taxes = in.fees.add(localFee), in.taxes.add(localTax)
	}
	fee, tax = c.base(localFee), c.base(localTax)
	if p != nil {
		p.fees, p.taxes = p.fees.add(fee), p.taxes.add(tax)
	}
	b.fees, b.taxes = b.fees.add(fee), b.taxes.add(tax)
	both := fee.add(tax)
	b.charges = b.charges.add(both)
	b.move(c, local.neg(), both.neg())
}

// move changes cash: the settlement currency's balance by local, and the base
// figure by base.
func (b *Book) move(c *conv, local, base num) {
	b.cash = b.cash.add(base)
	b.moveLocal(c.settle, local)
}

// moveLocal changes one currency's cash balance.
func (b *Book) moveLocal(cur string, amount num) {
	bal, ok := b.balances[cur]
	if !ok {
		i, _ := slices.BinarySearch(b.currencies, cur)
		b.currencies = slices.Insert(b.currencies, i, cur)
	}
	b.balances[cur] = bal.add(amount)
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
		Balances:    b.Balances(),
	}
}

// Balances returns the cash balance of every currency cash has moved in,
// sorted by currency (a currency whose balance is back to zero is kept).
func (b *Book) Balances() []Balance {
	out := make([]Balance, len(b.currencies))
	for i, c := range b.currencies {
		out[i] = Balance{Currency: c, Amount: b.balances[c].dec()}
	}
	return out
}

// Realizations returns one entry per applied sell, in the order applied.
func (b *Book) Realizations() []Realization {
	out := make([]Realization, len(b.realizations))
	for i, r := range b.realizations {
		out[i] = Realization{
			TxID: r.txID, Symbol: r.symbol, Date: r.date, Quantity: r.quantity,
			Proceeds: r.proceeds.dec(), CostBasis: r.costBasis.dec(), PnL: r.pnl.dec(), LocalPnL: r.localPnL.dec(),
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
			buf = append(buf, Lot{Date: l.date, Quantity: l.quantity.dec(), CostBasis: l.costBasis.dec(), LocalCostBasis: l.localCost.dec()})
		}
	} else if !p.quantity.isZero() || !p.costBasis.isZero() {
		buf = append(buf, Lot{Date: p.opened, Quantity: p.qdec, CostBasis: costBasis, LocalCostBasis: p.localCost.dec()})
	}
	var lots []Lot
	if len(buf) > start {
		lots = buf[start:len(buf):len(buf)]
	}
	settle, _ := currency.Settlement(p.currency)
	pos := Position{
		Symbol:      p.symbol,
		Currency:    p.currency,
		Local:       Local{Currency: settle, CostBasis: p.localCost.dec(), RealizedPnL: p.localRealized.dec(), Excluded: p.excluded},
		Quantity:    p.qdec,
		CostBasis:   costBasis,
		RealizedPnL: p.realized.dec(),
		Fees:        p.fees.dec(),
		Taxes:       p.taxes.dec(),
		Dividends:   p.dividends.dec(),
		Lots:        lots,
	}
	switch {
	case !p.traded:
		for _, e := range p.early {
			pos.Local.Excluded += e.n
		}
	case p.apart:
		pos.Local.Fees, pos.Local.Taxes, pos.Local.Dividends = p.local.fees.dec(), p.local.taxes.dec(), p.local.dividends.dec()
	default:
		pos.Local.Fees, pos.Local.Taxes, pos.Local.Dividends = pos.Fees, pos.Taxes, pos.Dividends
	}
	return pos, buf
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
