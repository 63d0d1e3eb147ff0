package activities

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// field is one known key of an activity.
type field uint32

const (
	fDate field = 1 << iota
	fType
	fSymbol
	fQuantity
	fUnitPrice
	fFee
	fCurrency
	fAmount
	fTax
	fID
	fNote
	fRatio
	fVoids
	fReason
	fFXRate
	fToAmount
	fToCurrency
)

var fieldNames = map[field]string{
	fDate: "date", fType: "type", fSymbol: "symbol", fQuantity: "quantity", fUnitPrice: "unitPrice",
	fFee: "fee", fCurrency: "currency", fAmount: "amount", fTax: "tax", fID: "id", fNote: "note",
	fRatio: "ratio", fVoids: "voids", fReason: "reason", fFXRate: "fxRate", fToAmount: "toAmount",
	fToCurrency: "toCurrency",
}

func (f field) String() string { return fieldNames[f] }

// fieldOf maps a JSON key to a known field (0 for keys that are ignored).
func fieldOf(key []byte) field {
	switch string(key) {
	case "date":
		return fDate
	case "type":
		return fType
	case "symbol":
		return fSymbol
	case "quantity":
		return fQuantity
	case "unitPrice":
		return fUnitPrice
	case "fee":
		return fFee
	case "currency":
		return fCurrency
	case "amount":
		return fAmount
	case "tax":
		return fTax
	case "id":
		return fID
	case "note":
		return fNote
	case "ratio":
		return fRatio
	case "voids":
		return fVoids
	case "reason":
		return fReason
	case "fxRate":
		return fFXRate
	case "toAmount":
		return fToAmount
	case "toCurrency":
		return fToCurrency
	}
	return 0
}

// Void is the activity type that cancels an earlier activity (see the package doc).
const Void = "VOID"

// record is one activity as read, before it becomes a transaction. set holds the
// fields given with a non-null value.
type record struct {
	set                                   field
	negative                              field // numeric fields with a value below zero
	typ                                   string
	date                                  calendar.Date
	symbol, currency, id, note            string
	ratio, voids, toCurrency              string
	quantity, unitPrice, fee, amount, tax decimal.Decimal
	fxRate, toAmount                      decimal.Decimal
}

// gross is quantity × unitPrice (zero, without allocating, if either is absent).
func (r *record) gross() decimal.Decimal {
	if r.set&fQuantity == 0 || r.set&fUnitPrice == 0 {
		return decimal.Decimal{}
	}
	return r.quantity.Mul(r.unitPrice)
}

// setNumber stores a parsed numeric field, noting a negative value (the rules
// for signs differ by type and are checked when the record is complete).
func (r *record) setNumber(f field, d decimal.Decimal, negative bool) {
	if negative {
		r.negative |= f
	}
	switch f {
	case fQuantity:
		r.quantity = d
	case fUnitPrice:
		r.unitPrice = d
	case fFee:
		r.fee = d
	case fAmount:
		r.amount = d
	case fTax:
		r.tax = d
	case fFXRate:
		r.fxRate = d
	case fToAmount:
		r.toAmount = d
	}
}

// fieldError is an error about one field's value.
func fieldError(f field, format string, args ...any) error {
	return fmt.Errorf("%q: %s", f.String(), fmt.Sprintf(format, args...))
}

// causeError carries a message and, for errors.Is, a sentinel it does not print.
type causeError struct {
	msg   string
	cause error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.cause }

// tagged is an error whose message is the formatted text and whose cause is cause.
func tagged(cause error, format string, args ...any) error {
	return &causeError{msg: fmt.Sprintf(format, args...), cause: cause}
}

const chunkSize = 1024

// builder turns records into transactions, in file order, and keeps what the
// cross-record rules need: the currencies seen, the ids seen, the voids.
type builder struct {
	source string
	// Transactions, in file order: first into direct, sized from the file's size
	// when known, then into fixed-size chunks (see store).
	direct     []portfolio.Transaction
	chunks     [][]portfolio.Transaction
	ntx        int
	lines      []int32 // by file index
	txAt       []int32 // by file index: position in txs, or -1 for a VOID
	ids        map[string]int32
	voidedBy   map[int32]int32 // file index of a voided activity -> file index of its VOID
	voids      map[int32]int32 // file index of a VOID -> file index of the activity it voids
	currencies map[string]bool
	traded     map[string]int32  // symbol -> file index of its first trade
	strs       map[string]string // interned symbols, currencies
	decs       *decimalCache

	// keepGoing (ParseAll) refuses an activity in error and reads on; refused
	// holds those errors in file order. maxActivities bounds the activities
	// read (0: no bound).
	keepGoing     bool
	refused       []*Error
	maxActivities int
}

// refusedRow is txAt's mark of an activity refused in keep-going mode: like a
// VOID it holds no transaction, and it claimed no id, so nothing refers to it.
const refusedRow = -2

// newBuilder starts a builder for about expect activities (0 if unknown).
func newBuilder(source string, expect int) *builder {
	expect = min(max(expect, 0), 1<<18) // beyond, chunks take over
	return &builder{
		source:     source,
		ids:        make(map[string]int32, expect),
		currencies: map[string]bool{},
		traded:     map[string]int32{},
		strs:       map[string]string{},
		lines:      make([]int32, 0, expect),
		txAt:       make([]int32, 0, expect),
		direct:     make([]portfolio.Transaction, 0, expect),
	}
}

// store appends a transaction. Growing one slice by append would copy its ~200-byte
// elements over and over (a 50,000-activity file moved ~50 MB that way), so the
// transactions fill direct — allocated once, from the file's size — and, if the
// estimate was short, fixed-size chunks; result copies them once, into a slice of
// the exact size, only when chunks were needed or the estimate was far too large.
func (b *builder) store(tx *portfolio.Transaction) {
	if len(b.direct) < cap(b.direct) {
		b.direct = append(b.direct, *tx)
		return
	}
	if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == chunkSize {
		b.chunks = append(b.chunks, make([]portfolio.Transaction, 0, chunkSize))
	}
	last := &b.chunks[len(b.chunks)-1]
	*last = append(*last, *tx)
}

// at returns the transaction stored at position pos.
func (b *builder) at(pos int32) *portfolio.Transaction {
	if int(pos) < len(b.direct) {
		return &b.direct[pos]
	}
	pos -= int32(len(b.direct))
	return &b.chunks[pos/chunkSize][pos%chunkSize]
}

// bytesPerActivity is a low estimate of an activity's size in a file, to size the
// builder's tables from the file's size (ours are ~125 bytes, Ghostfolio's ~350).
const bytesPerActivity = 120

// sizeHint returns the input's size in bytes when the reader can tell, else 0.
func sizeHint(r io.Reader) int {
	switch v := r.(type) {
	case interface{ Len() int }:
		return v.Len()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return int(min(fi.Size(), 1<<40))
		}
	}
	return 0
}

// intern returns a shared copy of a short, often repeated string.
func (b *builder) intern(v []byte) string {
	if s, ok := b.strs[string(v)]; ok {
		return s
	}
	s := string(v)
	if len(s) <= 64 && len(b.strs) < 1<<16 {
		b.strs[s] = s
	}
	return s
}

func (b *builder) fail(index, line int, err error) *Error {
	return &Error{File: b.source, Index: index, Line: line, Err: err}
}

// admit refuses the index-th activity past maxActivities.
func (b *builder) admit(index, line int) error {
	if b.maxActivities > 0 && index >= b.maxActivities {
		return &Error{File: b.source, Index: -1, Line: line, Err: tagged(ErrTooManyActivities, "more than %d activities", b.maxActivities)}
	}
	return nil
}

// add validates one record (the index-th activity, starting on line) and records it.
func (b *builder) add(rec *record, index, line int) error {
	b.lines = append(b.lines, int32(line))
	if len(b.lines) == 256 {
		b.decs = new(decimalCache) // worth its 128 KB from here on
	}
	err := b.build(rec, index)
	if err != nil {
		return b.reject(index, line, err)
	}
	return nil
}

// reject reports the index-th activity's error: the parse's error, or in
// keep-going mode nil, the activity kept aside as refused.
func (b *builder) reject(index, line int, err error) error {
	located := b.fail(index, line, err)
	if !b.keepGoing {
		return located
	}
	if len(b.lines) == index { // refused before add: its line is not noted yet
		b.lines = append(b.lines, int32(line))
	}
	b.txAt = append(b.txAt, refusedRow)
	b.refused = append(b.refused, located)
	return nil
}

func (b *builder) build(rec *record, index int) error {
	if rec.set&fType == 0 {
		return errors.New(`missing "type"`)
	}
	if rec.typ == Void {
		return b.void(rec, index)
	}
	typ, err := activityType(rec.typ)
	if err != nil {
		return err
	}
	if rec.set&fDate == 0 {
		return errors.New(`missing "date"`)
	}
	if rec.set&fCurrency == 0 {
		return errors.New(`missing "currency"`)
	}
	if rec.negative != 0 {
		for _, f := range []struct {
			f field
			v *decimal.Decimal
		}{{fQuantity, &rec.quantity}, {fUnitPrice, &rec.unitPrice}, {fFee, &rec.fee}, {fAmount, &rec.amount}, {fTax, &rec.tax},
			{fFXRate, &rec.fxRate}, {fToAmount, &rec.toAmount}} {
			if rec.negative&f.f != 0 {
				return fieldError(f.f, "%s must not be negative", f.v.String())
			}
		}
	}
	tx := portfolio.Transaction{
		ID:       rec.id,
		Seq:      int64(index),
		Type:     typ,
		Date:     rec.date,
		Symbol:   rec.symbol,
		Currency: rec.currency,
		Fee:      rec.fee,
		Tax:      rec.tax,
		FXRate:   rec.fxRate,
		Note:     rec.note,
	}
	if rec.set&(fToAmount|fToCurrency) != 0 && typ != portfolio.Conversion {
		return fmt.Errorf(`only CONVERSION takes "toAmount" and "toCurrency", not %s`, typ)
	}
	switch typ {
	case portfolio.Buy, portfolio.Sell:
		if !rec.amount.IsZero() {
			return fmt.Errorf(`%s takes "quantity" and "unitPrice", not "amount"`, typ)
		}
		tx.Quantity, tx.Price = rec.quantity, rec.unitPrice
	case portfolio.Dividend, portfolio.Interest, portfolio.Deposit, portfolio.Withdrawal:
		gross := rec.gross()
		switch {
		case rec.amount.IsZero():
			tx.Amount = gross
		case gross.IsZero() || gross.Equal(rec.amount):
			tx.Amount = rec.amount
		default:
			return fmt.Errorf(`"amount" %s differs from quantity × unitPrice = %s`, rec.amount, gross)
		}
		if tx.Amount.IsZero() {
			return fmt.Errorf(`%s needs an "amount", or "quantity" and "unitPrice" with a positive product`, typ)
		}
	case portfolio.Fee:
		// Ghostfolio puts a fee activity's charge in "fee"; "amount" is accepted too.
		if gross := rec.gross(); !gross.IsZero() {
			return fmt.Errorf(`FEE carries its charge in "fee"; quantity × unitPrice must be 0, not %s`, gross)
		}
		switch {
		case rec.amount.IsZero():
			tx.Amount = rec.fee
		case rec.fee.IsZero() || rec.fee.Equal(rec.amount):
			tx.Amount = rec.amount
		default:
			return fmt.Errorf(`FEE has both "fee" %s and "amount" %s`, rec.fee, rec.amount)
		}
		if tx.Amount.IsZero() {
			return errors.New(`FEE needs a positive "fee"`)
		}
		tx.Fee = decimal.Decimal{}
	case portfolio.Conversion:
		if gross := rec.gross(); !gross.IsZero() {
			return errors.New(`CONVERSION takes "amount" (out) and "toAmount" (in), not quantity × unitPrice`)
		}
		if rec.set&fToCurrency == 0 || rec.set&fToAmount == 0 {
			return errors.New(`CONVERSION needs "amount" of "currency" out and "toAmount" of "toCurrency" in`)
		}
		tx.Amount, tx.ToAmount, tx.ToCurrency = rec.amount, rec.toAmount, rec.toCurrency
	case portfolio.Split:
		if rec.set&fRatio == 0 {
			return errors.New(`SPLIT needs a "ratio" ("N:D", e.g. "2:1")`)
		}
		tx.Quantity, tx.Price, tx.Amount = rec.quantity, rec.unitPrice, rec.amount
	}
	if rec.set&fRatio != 0 {
		r, err := portfolio.ParseRatio(rec.ratio)
		if err != nil {
			return tagged(err, "%q: %v", fRatio.String(), err)
		}
		tx.Ratio = r
	}
	if err := tx.Validate(); err != nil {
		return err
	}
	// The bounds every new transaction is held to (dates, magnitudes, symbols):
	// the importer refuses what the portfolio would, naming the line.
	if err := tx.CheckBounds(now()); err != nil {
		return err
	}
	if typ.IsTrade() {
		// A symbol trades in one currency (the portfolio and the lot book refuse
		// another): say so here, naming the trade that set it.
		if first, ok := b.traded[tx.Symbol]; ok {
			if was := b.at(b.txAt[first]).Currency; was != tx.Currency {
				return tagged(portfolio.ErrCurrencyMismatch, "%s trades in %s (activity %d, line %d), not %s", tx.Symbol, was, first, b.lines[first], tx.Currency)
			}
		}
	}
	if err := b.claimID(rec.id, index); err != nil {
		return err
	}
	// Nothing below refuses: what the later activities are checked against
	// holds only activities that are kept (keep-going mode reads past a refusal).
	if _, ok := b.traded[tx.Symbol]; typ.IsTrade() && !ok {
		b.traded[tx.Symbol] = int32(index)
	}
	b.currencies[tx.Currency] = true
	if tx.ToCurrency != "" {
		b.currencies[tx.ToCurrency] = true
	}
	b.store(&tx)
	b.txAt = append(b.txAt, int32(b.ntx))
	b.ntx++
	return nil
}

// now is the clock of the trade-date bound (a variable for tests).
var now = time.Now

// activityType maps a type name (any letter case) to the domain's.
func activityType(s string) (portfolio.TxType, error) {
	switch s {
	case "ITEM", "LIABILITY":
		return "", fieldError(fType, "%s is not supported (Ghostfolio valuables and liabilities are not tracked)", s)
	}
	t := portfolio.TxType(s)
	for _, known := range portfolio.TxTypes {
		if t == known {
			return t, nil
		}
	}
	return "", fieldError(fType, "unknown type %q (want BUY, SELL, DIVIDEND, INTEREST, FEE, DEPOSIT, WITHDRAWAL, SPLIT, CONVERSION or VOID)", s)
}

func (b *builder) claimID(id string, index int) error {
	if id == "" {
		return nil
	}
	if first, ok := b.ids[id]; ok {
		return fieldError(fID, "duplicate id %q (activity %d, line %d, has it)", id, first, b.lines[first])
	}
	b.ids[id] = int32(index)
	return nil
}

// void handles a VOID record: it must name an earlier, still valid, non-VOID activity.
func (b *builder) void(rec *record, index int) error {
	if extra := rec.set &^ (fType | fVoids | fReason | fID | fDate | fNote); extra != 0 {
		for f := fDate; f <= fReason; f <<= 1 {
			if extra&f != 0 {
				return fmt.Errorf(`VOID takes only "voids", "reason", "id", "date" and "note", not %q`, f.String())
			}
		}
	}
	if rec.voids == "" {
		return errors.New(`VOID needs "voids": the id of the activity it cancels`)
	}
	target, ok := b.ids[rec.voids]
	if !ok {
		return tagged(portfolio.ErrNotFound, "%q: no earlier activity has id %q", fVoids.String(), rec.voids)
	}
	if b.txAt[target] < 0 {
		return fieldError(fVoids, "activity %d (id %q) is itself a VOID and cannot be voided", target, rec.voids)
	}
	if by, done := b.voidedBy[target]; done {
		return tagged(portfolio.ErrAlreadyVoided, "%q: activity %d (id %q) is already voided by activity %d (line %d)",
			fVoids.String(), target, rec.voids, by, b.lines[by])
	}
	if err := b.claimID(rec.id, index); err != nil {
		return err
	}
	if b.voidedBy == nil {
		b.voidedBy = map[int32]int32{}
	}
	b.voidedBy[target] = int32(index)
	if b.voids == nil {
		b.voids = map[int32]int32{}
	}
	b.voids[int32(index)] = target
	b.txAt = append(b.txAt, -1)
	b.untrade(target)
	return nil
}

// untrade lets a voided trade stop deciding its symbol's currency: the next
// trade of the symbol still valid decides it, or none (a wrong-currency trade
// voided in the file frees the symbol, as the portfolio's void does).
func (b *builder) untrade(target int32) {
	tx := b.at(b.txAt[target])
	if !tx.Type.IsTrade() || b.traded[tx.Symbol] != target {
		return
	}
	delete(b.traded, tx.Symbol)
	for i := target + 1; int(i) < len(b.txAt); i++ {
		if b.txAt[i] < 0 {
			continue
		}
		if _, voided := b.voidedBy[i]; voided {
			continue
		}
		if next := b.at(b.txAt[i]); next.Type.IsTrade() && next.Symbol == tx.Symbol {
			b.traded[tx.Symbol] = i
			return
		}
	}
}

// result removes the voided transactions, sorts for replay and packs the result.
//
// Replay order is date, then splits first, then file order (Seq): what
// portfolio.SortForReplay does, and TestSortMatchesDomain holds the two together.
// Sorting packed keys and moving each ~200-byte transaction once is several times
// faster than a stable sort that moves them around.
func (b *builder) result() *Result {
	var txs []portfolio.Transaction
	if len(b.chunks) == 0 {
		txs = b.direct
		if len(b.voidedBy) > 0 {
			gone := make([]bool, len(txs))
			for seq := range b.voidedBy {
				gone[b.txAt[seq]] = true
			}
			kept := txs[:0]
			for i := range txs {
				if !gone[i] {
					kept = append(kept, txs[i])
				}
			}
			clear(txs[len(kept):])
			txs = kept
		}
		sortInPlace(txs)
		if cap(txs)-len(txs) > len(txs)/8+64 {
			txs = append(make([]portfolio.Transaction, 0, len(txs)), txs...)
		}
	} else {
		keys := make([]uint64, 0, b.ntx-len(b.voidedBy))
		for seq, pos := range b.txAt {
			if pos < 0 {
				continue
			}
			if _, gone := b.voidedBy[int32(seq)]; gone {
				continue
			}
			tx := b.at(pos)
			keys = append(keys, replayKey(tx.Date, tx.Type == portfolio.Split, seq))
		}
		if !slices.IsSorted(keys) {
			slices.Sort(keys)
		}
		txs = make([]portfolio.Transaction, len(keys))
		for i, k := range keys {
			txs[i] = *b.at(b.txAt[k&seqMask])
		}
	}
	b.direct, b.chunks = nil, nil
	currencies := make([]string, 0, len(b.currencies))
	for c := range b.currencies {
		currencies = append(currencies, c)
	}
	slices.Sort(currencies)
	return &Result{
		Source:       b.source,
		Currencies:   currencies,
		Transactions: txs,
		Activities:   len(b.lines),
		Voided:       len(b.voidedBy),
		Refused:      b.refused,
		lines:        b.lines,
		voidedBy:     b.voidedBy,
		voids:        b.voids,
	}
}

// sortInPlace sorts txs, which are in file order, into replay order.
func sortInPlace(txs []portfolio.Transaction) {
	keys := make([]uint64, len(txs))
	for i := range txs {
		keys[i] = replayKey(txs[i].Date, txs[i].Type == portfolio.Split, i)
	}
	if slices.IsSorted(keys) {
		return
	}
	slices.Sort(keys)
	// Position i takes txs[keys[i]&seqMask]: apply the permutation cycle by cycle.
	for i := range keys {
		if int(keys[i]&seqMask) == i {
			continue
		}
		tmp := txs[i]
		j := i
		for {
			k := int(keys[j] & seqMask)
			keys[j] = uint64(j) // done
			if k == i {
				txs[j] = tmp
				break
			}
			txs[j] = txs[k]
			j = k
		}
	}
}

const seqMask = 1<<31 - 1

// replayKey packs (date, split first, seq) into one ordered integer.
func replayKey(d calendar.Date, split bool, seq int) uint64 {
	k := uint64(uint32(d)^1<<31) << 32
	if !split {
		k |= 1 << 31
	}
	return k | uint64(seq)&seqMask
}

// upperType returns the type name in upper case without allocating for the usual
// spellings.
func upperType(v []byte) string {
	switch string(v) {
	case "BUY":
		return "BUY"
	case "SELL":
		return "SELL"
	case "DIVIDEND":
		return "DIVIDEND"
	case "INTEREST":
		return "INTEREST"
	case "FEE":
		return "FEE"
	case "DEPOSIT":
		return "DEPOSIT"
	case "WITHDRAWAL":
		return "WITHDRAWAL"
	case "SPLIT":
		return "SPLIT"
	case "VOID":
		return "VOID"
	case "CONVERSION":
		return "CONVERSION"
	}
	return strings.ToUpper(strings.TrimSpace(string(v)))
}
