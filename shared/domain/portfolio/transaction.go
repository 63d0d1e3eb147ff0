package portfolio

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/shopspring/decimal"
)

// TxType is the kind of a recorded transaction.
type TxType string

const (
	Buy        TxType = "BUY"
	Sell       TxType = "SELL"
	Dividend   TxType = "DIVIDEND"
	Interest   TxType = "INTEREST"
	Fee        TxType = "FEE"
	Deposit    TxType = "DEPOSIT"
	Withdrawal TxType = "WITHDRAWAL"
	Split      TxType = "SPLIT"
	// Conversion exchanges cash between two currencies: Amount of Currency out,
	// ToAmount of ToCurrency in.
	Conversion TxType = "CONVERSION"
)

// TxTypes lists every transaction type, in the order the docs present them.
var TxTypes = []TxType{Buy, Sell, Dividend, Interest, Fee, Deposit, Withdrawal, Split, Conversion}

// ParseTxType accepts a type name in any letter case.
func ParseTxType(s string) (TxType, error) {
	t := TxType(strings.ToUpper(strings.TrimSpace(s)))
	if slices.Contains(TxTypes, t) {
		return t, nil
	}
	return "", fmt.Errorf("%w: unknown transaction type %q (want one of %v)", ErrInvalidTransaction, s, TxTypes)
}

// IsTrade reports whether the type moves shares (and so needs a symbol).
func (t TxType) IsTrade() bool { return t == Buy || t == Sell }

// LotMethod selects how a sell is matched against earlier buys.
type LotMethod string

const (
	FIFO        LotMethod = "FIFO"
	AverageCost LotMethod = "AVERAGE"
)

// ParseLotMethod accepts "fifo", "average" or "average_cost" in any letter case.
func ParseLotMethod(s string) (LotMethod, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "FIFO":
		return FIFO, nil
	case "AVERAGE", "AVERAGE_COST", "AVG":
		return AverageCost, nil
	}
	return "", fmt.Errorf("%w: unknown lot method %q (want FIFO or AVERAGE)", ErrInvalidCommand, s)
}

// Ratio is a split ratio: New shares for every Old share held ("4:1" is a 4-for-1
// split, "1:10" a 1-for-10 reverse split).
type Ratio struct {
	New int64
	Old int64
}

// IsZero reports the unset ratio (every type but SPLIT has one).
func (r Ratio) IsZero() bool { return r == Ratio{} }

// MarshalText writes "N:D", the form people and broker files use.
func (r Ratio) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads "N:D".
func (r *Ratio) UnmarshalText(b []byte) error {
	v, err := ParseRatio(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRatio reads "N:D" with positive decimal integers (no signs, no leading
// zeros, nothing after D).
func ParseRatio(s string) (Ratio, error) {
	bad := fmt.Errorf("%w: split ratio %q is not N:D with positive whole numbers", ErrInvalidTransaction, s)
	n, d, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Ratio{}, bad
	}
	side := func(v string) (int64, bool) {
		if v == "" || v[0] == '0' || strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return 0, false
		}
		x, err := strconv.ParseInt(v, 10, 64)
		return x, err == nil
	}
	newShares, ok1 := side(n)
	oldShares, ok2 := side(d)
	if !ok1 || !ok2 {
		return Ratio{}, bad
	}
	return Ratio{New: newShares, Old: oldShares}, nil
}

// Validate checks both sides are positive.
func (r Ratio) Validate() error {
	if r.New <= 0 || r.Old <= 0 {
		return fmt.Errorf("%w: split ratio %d:%d must have positive sides", ErrInvalidTransaction, r.New, r.Old)
	}
	return nil
}

// String formats the ratio as N:D.
func (r Ratio) String() string { return fmt.Sprintf("%d:%d", r.New, r.Old) }

// Apply scales a share quantity by the ratio.
// An exact result keeps the quantity's scale: rounding 15 × 1/10 to "1.500000000000"
// would make every later addition rescale, which costs a big-integer power each.
func (r Ratio) Apply(q decimal.Decimal) decimal.Decimal {
	if r.New == r.Old {
		return q
	}
	scaled := q.Mul(decimal.NewFromInt(r.New))
	if r.Old == 1 {
		return scaled
	}
	old := decimal.NewFromInt(r.Old)
	if quo, rem := scaled.QuoRem(old, -scaled.Exponent()); rem.IsZero() {
		return quo
	}
	if quo, rem := scaled.QuoRem(old, -scaled.Exponent()+6); rem.IsZero() {
		return quo // e.g. 15 × 1/10 = 1.5 (scale +6 covers ratios up to 1:10^6 exactly)
	}
	return scaled.DivRound(old, QuantityScale)
}

// QuantityScale is the number of decimal places kept when a division produces a
// share quantity (splits such as 1:3). Brokers report at most 9.
const QuantityScale = 12

// Dust is the largest shortfall a sell may have against the holding and still be
// accepted: brokers round fractional shares, and a sell of 10.000000004 against a
// holding of 10 means "sell everything". The sell then closes the holding.
var Dust = decimal.New(1, -8)

// Transaction is one recorded activity. Which fields matter depends on Type:
//
//	BUY, SELL          Symbol, Quantity (shares > 0), Price (per share > 0); Fee, Tax optional.
//	DIVIDEND           Symbol, Amount (gross cash > 0); Fee, Tax (withholding) optional.
//	INTEREST           Amount > 0; Symbol optional.
//	FEE                Amount > 0 (the charge); Symbol optional.
//	DEPOSIT/WITHDRAWAL Amount > 0; no symbol.
//	SPLIT              Symbol, Ratio.
//	CONVERSION         Amount > 0 of Currency out, ToAmount > 0 of ToCurrency in; Fee, Tax optional.
//
// Fee and Tax are never negative. On every type the cash effect is the type's own
// effect minus Fee and Tax (see CashEffect). Every amount is in Currency, which may
// be a quote unit (GBp: prices in pence, cash in pounds). FXRate is what one unit
// of Currency's settlement currency was worth in the portfolio's base currency on
// the trade date: zero when they are the same, recorded on the event so that a
// later correction of rates never rewrites the history (docs/architecture.md §7).
type Transaction struct {
	ID       string          `json:"transactionId"`
	Seq      int64           `json:"-"` // recording order, SeqOf(event version, position in the event)
	Type     TxType          `json:"type"`
	Date     calendar.Date   `json:"date"`
	Symbol   string          `json:"symbol,omitempty"`
	Quantity decimal.Decimal `json:"quantity,omitzero"`
	Price    decimal.Decimal `json:"price,omitzero"`
	Amount   decimal.Decimal `json:"amount,omitzero"`
	Fee      decimal.Decimal `json:"fee,omitzero"`
	Tax      decimal.Decimal `json:"tax,omitzero"`
	Currency string          `json:"currency"`
	FXRate   decimal.Decimal `json:"fxRate,omitzero"`
	// ToAmount and ToCurrency are a CONVERSION's incoming side.
	ToAmount   decimal.Decimal `json:"toAmount,omitzero"`
	ToCurrency string          `json:"toCurrency,omitempty"`
	Ratio      Ratio           `json:"ratio,omitzero"`
	Note       string          `json:"note,omitempty"`
}

// Settlement is the currency the transaction's cash moves in (GBP for GBp).
func (t Transaction) Settlement() string {
	s, _ := currency.Settlement(t.Currency)
	return s
}

// RateTo is the rate that converts the transaction's settlement currency into
// base on its date: 1 when they are the same, else FXRate, and false when that
// is missing.
func (t Transaction) RateTo(base string) (decimal.Decimal, bool) {
	if t.Settlement() == base {
		return one, true
	}
	return t.FXRate, t.FXRate.IsPositive()
}

var one = decimal.NewFromInt(1)

// Gross is quantity × price for trades, the amount otherwise.
func (t Transaction) Gross() decimal.Decimal {
	if t.Type.IsTrade() {
		return t.Quantity.Mul(t.Price)
	}
	return t.Amount
}

// Charges is fee plus tax.
func (t Transaction) Charges() decimal.Decimal { return t.Fee.Add(t.Tax) }

// CashEffect is how the transaction changes the cash balance of its settlement
// currency (a CONVERSION's incoming side is not in it: see ToAmount).
func (t Transaction) CashEffect() decimal.Decimal {
	return currency.ToSettlement(t.Currency, t.cashEffect())
}

func (t Transaction) cashEffect() decimal.Decimal {
	var base decimal.Decimal
	switch t.Type {
	case Buy:
		base = t.Gross().Neg()
	case Sell, Dividend, Interest, Deposit:
		base = t.Gross()
	case Fee, Withdrawal, Conversion:
		base = t.Amount.Neg()
	}
	return base.Sub(t.Charges())
}

// Validate checks the transaction on its own: required fields for its type,
// positive amounts, a known currency, and no cash transfer finer than its
// currency's minor unit. Whether the portfolio can accept it (enough shares on
// that date, matching currency) is the aggregate's decision.
func (t Transaction) Validate() error {
	if err := t.validateShape(); err != nil {
		return err
	}
	return t.checkMinorUnits()
}

// validateStored holds a stored transaction to the rules of the event schema
// version that wrote it. Version 1 knew neither the multi-currency fields (a
// transaction using one needs version 2) nor the minor-units rule, so a JPY
// deposit of 100.5 stored before that rule still loads.
func (t Transaction) validateStored(schemaVersion int) error {
	if err := t.validateShape(); err != nil {
		return err
	}
	if feature := t.multiCurrencyFeature(); feature != "" && schemaVersion < 2 {
		return fmt.Errorf("%w: %s needs schemaVersion 2, not %d", ErrInvalidTransaction, feature, schemaVersion)
	}
	if schemaVersion < 2 {
		return nil
	}
	return t.checkMinorUnits()
}

// multiCurrencyFeature names the first field of t that event schema version 1
// cannot carry (an fxRate, a CONVERSION with its toAmount and toCurrency, a
// quote-unit currency such as GBp), or is empty when there is none.
func (t Transaction) multiCurrencyFeature() string {
	switch {
	case t.Type == Conversion:
		return "type CONVERSION"
	case !t.FXRate.IsZero():
		return "fxRate"
	case !t.ToAmount.IsZero():
		return "toAmount"
	case t.ToCurrency != "":
		return "toCurrency"
	case !currency.IsISO(t.Currency):
		return fmt.Sprintf("currency %q (not an ISO 4217 code)", t.Currency)
	}
	return ""
}

// schemaVersion is the lowest event schema version that can carry t.
func (t Transaction) schemaVersion() int {
	if t.multiCurrencyFeature() != "" {
		return 2
	}
	return 1
}

// validateShape is Validate without the minor-units rule.
func (t Transaction) validateShape() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidTransaction, fmt.Sprintf(format, args...))
	}
	if !slices.Contains(TxTypes, t.Type) {
		return bad("unknown type %q", t.Type)
	}
	if HasControl(t.Symbol) || HasControl(t.Note) || HasControl(t.Currency) || HasControl(t.ToCurrency) {
		return bad("symbol, currency and note may not contain control characters")
	}
	if utf8.RuneCountInString(t.Note) > 500 {
		return bad("note is longer than 500 characters")
	}
	if t.Symbol != strings.TrimSpace(t.Symbol) || len(t.Symbol) > 32 {
		return bad("symbol %q must be at most 32 characters without surrounding spaces", t.Symbol)
	}
	if !currency.Known(t.Currency) {
		return bad("unknown currency %q (want an ISO 4217 code such as USD, or GBp for prices in pence)", t.Currency)
	}
	if t.FXRate.IsNegative() || (!t.FXRate.IsZero() && !t.FXRate.IsPositive()) {
		return bad("fxRate %s must be positive", t.FXRate)
	}
	if t.Fee.IsNegative() {
		return bad("fee %s must not be negative", t.Fee)
	}
	if t.Tax.IsNegative() {
		return bad("tax %s must not be negative", t.Tax)
	}
	needSymbol := t.Type.IsTrade() || t.Type == Dividend || t.Type == Split
	if needSymbol && t.Symbol == "" {
		return bad("%s needs a symbol", t.Type)
	}
	if (t.Type == Deposit || t.Type == Withdrawal || t.Type == Conversion) && t.Symbol != "" {
		return bad("%s takes no symbol", t.Type)
	}
	if t.Type != Conversion && (!t.ToAmount.IsZero() || t.ToCurrency != "") {
		return bad("only CONVERSION takes toAmount and toCurrency")
	}
	switch t.Type {
	case Buy, Sell:
		if !t.Quantity.IsPositive() {
			return bad("%s quantity %s must be positive", t.Type, t.Quantity)
		}
		if !t.Price.IsPositive() {
			return bad("%s price %s must be positive", t.Type, t.Price)
		}
		if !t.Amount.IsZero() {
			return bad("%s takes quantity and price, not amount", t.Type)
		}
	case Conversion:
		if !t.Amount.IsPositive() || !t.ToAmount.IsPositive() {
			return bad("CONVERSION amount %s and toAmount %s must be positive", t.Amount, t.ToAmount)
		}
		if !currency.IsISO(t.Currency) || !currency.IsISO(t.ToCurrency) {
			return bad("CONVERSION is between two cash currencies (ISO codes such as EUR and USD), not %q and %q", t.Currency, t.ToCurrency)
		}
		if t.Currency == t.ToCurrency {
			return bad("CONVERSION from %s to itself", t.Currency)
		}
		if !t.Quantity.IsZero() || !t.Price.IsZero() {
			return bad("CONVERSION takes amounts, not quantity and price")
		}
	case Split:
		if err := t.Ratio.Validate(); err != nil {
			return err
		}
		if t.Ratio.New == t.Ratio.Old {
			return bad("split ratio %s changes nothing", t.Ratio)
		}
		if !t.Amount.IsZero() || !t.Quantity.IsZero() || !t.Price.IsZero() || !t.Fee.IsZero() || !t.Tax.IsZero() {
			return bad("SPLIT takes only a ratio (no amount, quantity, price, fee or tax)")
		}
	default:
		if !t.Amount.IsPositive() {
			return bad("%s amount %s must be positive", t.Type, t.Amount)
		}
		if !t.Quantity.IsZero() || !t.Price.IsZero() {
			return bad("%s takes an amount, not quantity and price", t.Type)
		}
	}
	if t.Type != Split && !t.Ratio.IsZero() {
		return bad("only SPLIT takes a ratio")
	}
	return nil
}

// checkMinorUnits refuses a transfer of cash finer than a currency without
// minor units has: a deposit of 100.5 JPY is a typo, not a payment. Prices,
// fees and income are exempt (Tokyo quotes 0.1 yen; a dividend per share times
// a fractional holding has any number of decimals), and so are currencies with
// cents, whose broker exports carry fractions of a cent.
func (t Transaction) checkMinorUnits() error {
	if t.Type != Deposit && t.Type != Withdrawal && t.Type != Conversion {
		return nil
	}
	for _, side := range []struct {
		amount decimal.Decimal
		code   string
	}{{t.Amount, t.Currency}, {t.ToAmount, t.ToCurrency}} {
		if side.code == "" || currency.IsQuoteUnit(side.code) || currency.MinorDigits(side.code) != 0 {
			continue
		}
		if !side.amount.Equal(side.amount.Truncate(0)) {
			return fmt.Errorf("%w: %s %s: %s has no minor unit", ErrInvalidTransaction, side.amount, side.code, side.code)
		}
	}
	return nil
}

// SeqOf is the recording order of the index-th transaction of the event with the
// given version: events in version order, and within an import in file order.
func SeqOf(version int64, index int) int64 { return version<<16 | int64(index) }

// VersionOfSeq is the version of the event that recorded a transaction.
func VersionOfSeq(seq int64) int64 { return seq >> 16 }

// CompareForReplay orders transactions as they take effect: by date; within a date
// splits first (a split applies to the shares held at the start of its day), then
// in recording order.
func CompareForReplay(a, b *Transaction) int {
	if c := cmp.Compare(a.Date, b.Date); c != 0 {
		return c
	}
	if as, bs := a.Type == Split, b.Type == Split; as != bs {
		if as {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// SortForReplay sorts in place by CompareForReplay. The sort is stable, so callers
// that leave Seq at zero keep their input order within a date. It sorts small keys
// and then permutes once: comparing the 200-byte transactions themselves made a
// newest-first broker export of 50,000 activities ten times slower to sort.
func SortForReplay(txs []Transaction) {
	type key struct {
		date  calendar.Date
		split bool
		seq   int64
		at    int32
	}
	keys := make([]key, len(txs))
	sorted := true
	for i := range txs {
		keys[i] = key{txs[i].Date, txs[i].Type == Split, txs[i].Seq, int32(i)}
		if i > 0 && CompareForReplay(&txs[i-1], &txs[i]) > 0 {
			sorted = false
		}
	}
	if sorted {
		return
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.date, b.date); c != 0 {
			return c
		}
		if a.split != b.split {
			if a.split {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.seq, b.seq)
	})
	// Apply the permutation in place, cycle by cycle: each transaction moves once
	// and no second 10 MB slice is allocated for a 50,000-activity history.
	for start := range keys {
		if keys[start].at < 0 {
			continue
		}
		saved := txs[start]
		i := start
		for {
			from := int(keys[i].at)
			keys[i].at = -1
			if from == start {
				txs[i] = saved
				break
			}
			txs[i] = txs[from]
			i = from
		}
	}
}

// HasControl reports a control character (NUL, escape, ...) or invalid UTF-8:
// neither belongs in a name, a symbol or a note, and PostgreSQL text cannot even
// store NUL.
func HasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0
}

// HasInvisible reports a format character (Unicode Cf: bidi controls, zero-width
// spaces and joiners, the byte-order mark) or a control character: in a name or a
// symbol they make two different strings look alike. New names and symbols may
// not hold them; stored ones are read as they are.
func HasInvisible(s string) bool {
	return HasControl(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0
}

// HasBidiControl reports a character that reorders how text displays (the
// "Trojan Source" class): free text such as notes may hold other format
// characters (emoji sequences use the zero-width joiner), never these.
func HasBidiControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return r == '\u061c' || r == '\u200e' || r == '\u200f' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
	}) >= 0
}

// ApplySell subtracts a sold quantity from a holding. A shortfall up to Dust
// closes the holding, and so does a remainder up to Dust (after a 1:3 reverse
// split, 3.333333333333 sold as the 3.333333333 a broker reports leaves 3e-10 of a
// share, which nobody can sell); a larger shortfall is refused (ok = false).
func ApplySell(held, sold decimal.Decimal) (left decimal.Decimal, ok bool) {
	left = held.Sub(sold)
	if left.IsZero() {
		return left, true
	}
	// A non-zero decimal with exponent above −8 is at least 1e-7 in size: no dust.
	// Checking that first spares almost every sell a big-integer comparison.
	if left.Exponent() > -8 {
		return left, !left.IsNegative()
	}
	if left.Abs().LessThanOrEqual(Dust) {
		return decimal.Zero, true
	}
	return left, !left.IsNegative()
}
