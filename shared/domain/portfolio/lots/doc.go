// Package lots is the lot engine: it folds a portfolio's transactions, in replay
// order, into positions (quantity, cost basis, lots), realized profit and loss, and
// portfolio-level income, charges and cash. It is pure domain code: decimal
// arithmetic, no I/O.
//
// # Conventions
//
// These are the product's accounting conventions; every figure the engine reports
// follows them.
//
// Lot methods. With [portfolio.FIFO] every buy opens a lot and a sell consumes the
// oldest lots first; a partly consumed lot gives up cost basis in proportion to the
// shares taken (lot cost × taken / lot quantity). With [portfolio.AverageCost] each
// symbol has one pooled lot and a sell removes cost basis proportionally:
// removed = cost basis × sold / held. Once everything is sold both methods have
// realized exactly total proceeds − total cost; they differ only in how that total
// is split between sells.
//
// BUY. Cost basis += quantity × price + fee + tax: fees and taxes paid to buy are
// part of what the shares cost.
//
// SELL. Proceeds = quantity × price − fee − tax. The sell's realized P&L is proceeds
// − the cost basis of the shares consumed. A sell exceeding the holding by at most
// [portfolio.Dust] closes the holding ([portfolio.ApplySell]); a larger oversell is
// refused with an error wrapping [portfolio.ErrInsufficientHoldings].
//
// SPLIT N:D. Every open lot's quantity becomes quantity × N / D ([portfolio.Ratio.Apply],
// rounded to [portfolio.QuantityScale] places per lot; the position's quantity is the
// sum of its lots). Cost basis is unchanged, so the cost per share scales by D / N.
// A split changes no money figure (a fee or tax recorded on the split is a charge,
// like one on a FEE).
//
// DIVIDEND. Gross Amount is income, reported per symbol and in total as Dividends; its
// Tax (withholding) is reported as taxes and its Fee as fees. A dividend is not a
// return of capital: cost basis is unchanged. A dividend may arrive for a symbol no
// longer (or never) held.
//
// INTEREST. Amount is portfolio-level Interest, even when the transaction names a
// symbol; its fee and tax count in the portfolio totals only.
//
// FEE. A charge of Amount + Fee + Tax at portfolio level. When it names a symbol,
// Amount + Fee is also added to that position's Fees and Tax to its Taxes.
//
// DEPOSIT, WITHDRAWAL. Amount is counted in Deposits or Withdrawals; a fee or tax on
// the transfer is a charge.
//
// Cash. Every transaction moves cash by [portfolio.Transaction.CashEffect]; the book
// reports Cash as the sum of those effects. It is the cash balance when deposits and
// withdrawals are recorded, and simply the net cash flow of the activity otherwise.
//
// Fees and taxes. A position's Fees and Taxes are every fee and tax paid on that
// symbol's transactions (buy, sell, dividend, split, FEE naming it); the portfolio's
// are every fee and tax on every transaction, FEE amounts included among fees. They
// are informational: for trades they are already inside cost basis and proceeds.
// [Summary.Charges] is the part that is not — fees and taxes on dividends, interest,
// splits, deposits and withdrawals, plus FEE charges — so that, exactly,
//
//	Cash = Deposits − Withdrawals − CostBasis + RealizedPnL + Dividends + Interest − Charges
//
// and a portfolio's total return is RealizedPnL + unrealized P&L + Dividends +
// Interest − Charges.
//
// Currencies. Every figure above is in the book's base currency, each
// transaction converted at its own rate (amounts in a quote unit such as GBp made
// pounds exactly first). A position also keeps its cost basis, realized P&L,
// fees, taxes and gross dividends in its settlement currency ([Local]: GBP for a
// GBp listing), summed from the symbol's transactions that settle in that
// currency. A dividend, fee or tax on the symbol that settles in another currency
// (a USD distribution on a London ETF) has no local amount without a rate the
// book does not have: it is in the base figures only, and [Local.Excluded]
// counts it. The first trade fixes the local currency; income recorded before it
// waits for it, and a symbol never traded has none (all its income excluded). A
// position that settles in the base with nothing excluded has local figures equal
// to its base ones, and the book does not keep them twice.
//
// Rounding. Additions, subtractions and multiplications are exact. The only
// divisions are proportional cost basis (partial lot consumption, average cost
// sells) and per-share figures ([Position.AveragePrice], [Lot.UnitCost]); they are
// rounded half away from zero to [MoneyScale] decimal places. A proportional cost is
// never more than the cost it is taken from, and a sell that closes a lot or a
// position takes its whole cost basis, so rounding never leaves cost behind once a
// position is closed.
//
// Valuation. At a price p a position's market value is quantity × p and its
// unrealized P&L is quantity × p − cost basis.
//
// # Use
//
// Build a [Book] with [New], then [Book.Apply] each transaction in
// [portfolio.SortForReplay] order (the book refuses one that would sort before its
// predecessor). Apply is atomic: when it returns an error the book is unchanged. A
// Book is not safe for concurrent use.
//
// Apply and the per-day reads a daily series needs, [Book.Quantity] and
// [Book.Holdings], are cheap: Apply allocates about twice per transaction and the
// reads not at all. [Book.Positions], [Book.Position], [Book.Summary] and
// [Book.Realizations] build decimal.Decimal copies and allocate.
package lots
