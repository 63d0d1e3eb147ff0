package portfolio

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/shopspring/decimal"
)

// Meta is who issues a command and why; it is stamped on every event the command
// produces.
type Meta struct {
	UserID        string
	CorrelationID string
	// CausationID is the command's ID (the client's Idempotency-Key or a generated
	// one). A retried command carries the same ID and is recognised by it.
	CausationID string
	// RequestHash fingerprints the request (see Event.RequestHash); optional.
	RequestHash string
	Now         time.Time
	// NewID makes event IDs (and so transaction IDs). Nil means random UUIDs; tests
	// pass a counter for readable, reproducible IDs.
	NewID func() string
}

func (m Meta) newID() string {
	if m.NewID != nil {
		return m.NewID()
	}
	return NewID()
}

// CreatePortfolio is the command that opens a portfolio.
type CreatePortfolio struct {
	Name         string
	Description  string
	BaseCurrency string
	LotMethod    LotMethod
}

// RecentCommandsKept is how many recent commands an aggregate remembers for
// idempotency. Retries arrive within seconds; 16 later commands on the same
// portfolio inside that window would be a client bug, not a retry. The number is
// small because the list rides in every snapshot, and a snapshot of a few hundred
// bytes is what keeps the event item that carries it within one write unit.
const RecentCommandsKept = 16

// CommandKey is the 64-bit FNV-1a hash under which a command ID is remembered.
// Command IDs are client-chosen strings of any length (often random UUIDs, which
// do not compress); eight bytes each keep snapshots small. Two commands of one
// portfolio colliding within its last 16 is a 2⁻⁶⁰ event.
func CommandKey(causationID string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(causationID))
	return h.Sum64()
}

// ParseRequestHash reads a request fingerprint (16 hex digits); 0 for anything
// else, which means "no fingerprint".
func ParseRequestHash(s string) uint64 {
	if len(s) != 16 {
		return 0
	}
	h, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0
	}
	return h
}

// CommandRecord says which versions one command wrote, and the fingerprint of
// the request that carried it (0: none recorded). It encodes as a compact JSON
// array ["<key as 16 hex digits>", from, to] with the fingerprint as a fourth
// element when there is one.
type CommandRecord struct {
	Key         uint64
	FromVersion int64
	ToVersion   int64
	RequestHash uint64
}

// MarshalJSON writes ["key", from, to] or ["key", from, to, "hash"].
func (c CommandRecord) MarshalJSON() ([]byte, error) {
	if c.RequestHash != 0 {
		return json.Marshal([]any{fmt.Sprintf("%016x", c.Key), c.FromVersion, c.ToVersion, fmt.Sprintf("%016x", c.RequestHash)})
	}
	return json.Marshal([]any{fmt.Sprintf("%016x", c.Key), c.FromVersion, c.ToVersion})
}

// UnmarshalJSON reads ["key", from, to] or ["key", from, to, "hash"].
func (c *CommandRecord) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) < 3 || len(raw) > 4 {
		return fmt.Errorf("command record %s: want [\"key\", from, to] or [\"key\", from, to, \"hash\"]", b)
	}
	if len(raw) == 4 {
		var h string
		if err := json.Unmarshal(raw[3], &h); err != nil {
			return fmt.Errorf("command record hash: %w", err)
		}
		if c.RequestHash = ParseRequestHash(h); c.RequestHash == 0 {
			return fmt.Errorf("command record hash %q is not 16 hex digits", h)
		}
	}
	var key string
	if err := json.Unmarshal(raw[0], &key); err != nil {
		return fmt.Errorf("command record key: %w", err)
	}
	k, err := strconv.ParseUint(key, 16, 64)
	if err != nil || len(key) != 16 {
		return fmt.Errorf("command record key %q is not 16 hex digits", key)
	}
	c.Key = k
	if err := json.Unmarshal(raw[1], &c.FromVersion); err != nil {
		return fmt.Errorf("command record from: %w", err)
	}
	if err := json.Unmarshal(raw[2], &c.ToVersion); err != nil {
		return fmt.Errorf("command record to: %w", err)
	}
	return nil
}

// symbolState is what the invariants need per symbol on the common path.
type symbolState struct {
	quantity decimal.Decimal
	// lastDate is the latest date of any quantity-changing transaction (BUY, SELL,
	// SPLIT) ever recorded on the symbol. A trade dated on or after it only adds to
	// the end of the timeline, so it can be checked against quantity alone.
	lastDate calendar.Date
	// stale is set when a fold from a snapshot met a change it could not apply
	// without the history (a back-dated trade or a void): quantity is then unknown
	// and decisions on the symbol need the full history.
	stale bool
	// currency is the currency of the symbol's trades ("" before the first, and in
	// snapshots written before portfolios had several currencies).
	currency string
}

// history is the full transaction list, present when the aggregate was folded from
// its first event (not from a snapshot). Transactions live in fixed-size chunks so
// that growing the list never copies it: a 50,000-transaction history appends in
// constant time, and replaying a million events touches each byte once.
type history struct {
	chunks [][]*Transaction // recording order, pointing into the events' payloads
	n      int
	voided map[int]struct{} // positions of voided transactions; voids are rare
	// index and bySymbol are built on first use: plain replays never need them.
	index    map[string]int
	bySymbol map[string][]int
}

const historyChunk = 1024

func (h *history) at(i int) *Transaction { return h.chunks[i/historyChunk][i%historyChunk] }

func (h *history) isVoided(i int) bool {
	_, ok := h.voided[i]
	return ok
}

// clone shares the filled chunks, which are never written again, and copies what
// a decision may change. The last chunk is shared too: the clone appends past the
// original's length, so only one of the two may go on being used (the caller keeps
// either the original or the clone, never both).
func (h *history) clone() *history {
	c := &history{chunks: slices.Clone(h.chunks), n: h.n}
	if h.voided != nil {
		c.voided = maps.Clone(h.voided)
	}
	return c
}

// Portfolio is the aggregate. Its zero value is "does not exist yet"; build one
// with Create or by folding events with Apply.
type Portfolio struct {
	id           string
	owner        string
	name         string
	description  string
	baseCurrency string
	lotMethod    LotMethod
	archived     bool
	createdAt    time.Time
	version      int64
	targets      *TargetAllocation
	settings     *AnalyticsSettings // nil: never set, the defaults apply
	symbols      map[string]*symbolState
	recorded     int // TransactionRecorded events ever
	voidedCount  int
	recent       []CommandRecord
	hist         *history
	pending      []Event
}

// ID, Owner, ... expose the state read-only.
func (p *Portfolio) ID() string              { return p.id }
func (p *Portfolio) Owner() string           { return p.owner }
func (p *Portfolio) Name() string            { return p.name }
func (p *Portfolio) Description() string     { return p.description }
func (p *Portfolio) BaseCurrency() string    { return p.baseCurrency }
func (p *Portfolio) LotMethod() LotMethod    { return p.lotMethod }
func (p *Portfolio) Archived() bool          { return p.archived }
func (p *Portfolio) CreatedAt() time.Time    { return p.createdAt }
func (p *Portfolio) Version() int64          { return p.version }
func (p *Portfolio) HasFullHistory() bool    { return p.hist != nil }
func (p *Portfolio) TransactionCount() int   { return p.recorded - p.voidedCount }
func (p *Portfolio) Pending() []Event        { return p.pending }
func (p *Portfolio) MarkCommitted()          { p.pending = nil }
func (p *Portfolio) exists() bool            { return p.version > 0 }
func (p *Portfolio) isOwnedBy(u string) bool { return u != "" && u == p.owner }

// TransactionsRecorded counts every transaction ever recorded, voided ones
// included: what quota.TransactionsPerPortfolio bounds.
func (p *Portfolio) TransactionsRecorded() int { return p.recorded }

// Targets returns the target allocation, if one is set.
func (p *Portfolio) Targets() (TargetAllocation, bool) {
	if p.targets == nil {
		return TargetAllocation{}, false
	}
	return *p.targets, true
}

// Quantity returns the current number of shares of symbol. ok is false when the
// quantity is unknown (restored from a snapshot and then changed out of order).
func (p *Portfolio) Quantity(symbol string) (q decimal.Decimal, ok bool) {
	s := p.symbols[symbol]
	if s == nil {
		return decimal.Zero, true
	}
	return s.quantity, !s.stale
}

// Transactions returns the active (not voided) transactions in replay order. It
// needs the full history.
func (p *Portfolio) Transactions() ([]Transaction, error) {
	if p.hist == nil {
		return nil, fmt.Errorf("portfolio %s: transactions: %w", p.id, ErrHistoryRequired)
	}
	out := make([]Transaction, 0, p.recorded-p.voidedCount)
	for i := 0; i < p.hist.n; i++ {
		if !p.hist.isVoided(i) {
			out = append(out, *p.hist.at(i))
		}
	}
	SortForReplay(out)
	return out, nil
}

// Transaction looks up one recorded transaction (voided ones too).
func (p *Portfolio) Transaction(id string) (tx Transaction, voided bool, err error) {
	if p.hist == nil {
		return Transaction{}, false, fmt.Errorf("portfolio %s: transaction %s: %w", p.id, id, ErrHistoryRequired)
	}
	i, ok := p.hist.lookup(id)
	if !ok {
		return Transaction{}, false, fmt.Errorf("%w: transaction %s in portfolio %s", ErrNotFound, id, p.id)
	}
	return *p.hist.at(i), p.hist.isVoided(i), nil
}

// FindCommand reports the versions a command with this causation ID wrote, if it is
// among the RecentCommandsKept most recent commands.
func (p *Portfolio) FindCommand(causationID string) (CommandRecord, bool) {
	if causationID == "" {
		return CommandRecord{}, false
	}
	key := CommandKey(causationID)
	recent := p.recentCommands()
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].Key == key {
			return recent[i], true
		}
	}
	return CommandRecord{}, false
}

// ---------------------------------------------------------------- commands

// Create decides the creation of a portfolio with the given ID.
func Create(id string, cmd CreatePortfolio, meta Meta) (*Portfolio, error) {
	p := &Portfolio{}
	if err := p.Create(id, cmd, meta); err != nil {
		return nil, err
	}
	return p, nil
}

// Create decides the creation on an aggregate loaded for that ID: it must not
// exist yet (a create racing another for the same ID is ErrAlreadyExists).
func (p *Portfolio) Create(id string, cmd CreatePortfolio, meta Meta) error {
	if p.exists() {
		return fmt.Errorf("%w: portfolio %s", ErrAlreadyExists, p.id)
	}
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: portfolio ID must be 1 to 64 characters", ErrInvalidCommand)
	}
	if err := checkMeta(meta); err != nil {
		return err
	}
	name, desc, err := cleanDetails(cmd.Name, cmd.Description)
	if err != nil {
		return err
	}
	if !currency.IsISO(cmd.BaseCurrency) {
		return fmt.Errorf("%w: unknown base currency %q (want an ISO 4217 code such as USD)", ErrInvalidCommand, cmd.BaseCurrency)
	}
	method := cmd.LotMethod
	if method == "" {
		method = FIFO
	}
	if method != FIFO && method != AverageCost {
		return fmt.Errorf("%w: unknown lot method %q (want FIFO or AVERAGE)", ErrInvalidCommand, method)
	}
	p.id = id
	return p.emit(meta, &PortfolioCreated{Name: name, Description: desc, BaseCurrency: cmd.BaseCurrency, LotMethod: method})
}

// ChangeDetails renames and/or re-describes the portfolio.
func (p *Portfolio) ChangeDetails(name, description string, meta Meta) error {
	if err := p.checkCommand(meta); err != nil {
		return err
	}
	name, description, err := cleanDetails(name, description)
	if err != nil {
		return err
	}
	if name == p.name && description == p.description {
		return nil // nothing changes: no event, and a retry is naturally idempotent
	}
	return p.emit(meta, &PortfolioDetailsChanged{Name: name, Description: description})
}

// Archive closes the portfolio to further commands.
func (p *Portfolio) Archive(reason string, meta Meta) error {
	if err := p.checkCommand(meta); err != nil {
		return err
	}
	if utf8.RuneCountInString(reason) > 500 || HasControl(reason) || HasBidiControl(reason) {
		return fmt.Errorf("%w: reason must be at most 500 characters, without control characters", ErrInvalidCommand)
	}
	return p.emit(meta, &PortfolioArchived{Reason: strings.TrimSpace(reason)})
}

// SetTargets replaces the target allocation.
func (p *Portfolio) SetTargets(a TargetAllocation, meta Meta) error {
	if err := p.checkCommand(meta); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if err := checkNewTargets(a); err != nil {
		return err
	}
	a.Targets = slices.Clone(a.Targets)
	slices.SortFunc(a.Targets, func(x, y Target) int { return strings.Compare(x.Symbol, y.Symbol) })
	return p.emit(meta, &TargetAllocationSet{TargetAllocation: a})
}

// RecordTransaction validates tx against the portfolio and records it. The
// transaction's ID is assigned here (the event ID), so it is unique without a
// lookup; Seq becomes the event version. It returns the transaction as recorded.
func (p *Portfolio) RecordTransaction(tx Transaction, meta Meta) (Transaction, error) {
	txs, err := p.RecordTransactions([]Transaction{tx}, meta)
	if err != nil {
		return Transaction{}, err
	}
	return txs[0], nil
}

// RecordTransactions records several transactions all-or-nothing (an import): if
// any is refused, none is recorded and the error names its index.
func (p *Portfolio) RecordTransactions(txs []Transaction, meta Meta) ([]Transaction, error) {
	if err := p.checkCommand(meta); err != nil {
		return nil, err
	}
	if len(txs) == 0 {
		return nil, fmt.Errorf("%w: no transactions", ErrInvalidCommand)
	}
	if err := p.checkTransactionQuota(len(txs)); err != nil {
		return nil, err
	}
	// Several transactions are decided on a scratch copy, so a refusal part way
	// leaves p untouched. One is decided in place: recordOne changes nothing until
	// every check has passed.
	scratch := p
	if len(txs) > 1 {
		scratch = p.clone()
	}
	out := make([]Transaction, 0, len(txs))
	for i, tx := range txs {
		recorded, err := scratch.recordOne(tx, meta)
		if err != nil {
			if len(txs) > 1 {
				return nil, fmt.Errorf("transaction %d: %w", i, err)
			}
			return nil, err
		}
		out = append(out, recorded)
	}
	if scratch != p {
		*p = *scratch
	}
	return out, nil
}

// ImportTransactions records an import all-or-nothing as ONE event, whatever its
// length (up to MaxImport): each transaction is checked against the portfolio as
// the ones before it leave it, and a refusal names its index.
func (p *Portfolio) ImportTransactions(txs []Transaction, meta Meta) ([]Transaction, error) {
	if err := p.checkCommand(meta); err != nil {
		return nil, err
	}
	if len(txs) == 0 || len(txs) > MaxImport {
		return nil, fmt.Errorf("%w: an import holds 1 to %d transactions, not %d", ErrInvalidCommand, MaxImport, len(txs))
	}
	if err := p.checkTransactionQuota(len(txs)); err != nil {
		return nil, err
	}
	scratch := p.clone()
	version := p.version + 1
	out := make([]Transaction, len(txs))
	for i, tx := range txs {
		if err := scratch.checkImported(&tx, meta, SeqOf(version, i)); err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		out[i] = tx
		scratch.foldRecorded(&out[i])
	}
	// The event carries its own copy: the caller's slice may change afterwards.
	if err := p.emit(meta, &TransactionsImported{Transactions: slices.Clone(out)}); err != nil {
		return nil, err
	}
	return out, nil
}

// PreviewImport decides an import as ImportTransactions would, without
// recording it, and past a refusal: each transaction (in replay order) is
// checked against the portfolio as the transactions before it that were
// accepted leave it, so a sell after a refused buy is refused in turn.
// refused[i] is the i-th's refusal, nil when it would be recorded; checked[i]
// is it as it would be recorded (a conversion into the base gets its implied
// fxRate), with no ID and its Seq as given. err refuses the whole import: the
// portfolio (not the caller's, archived), its size (MaxImport, the
// transactions quota on all of txs, which a corrected file would record), or
// ErrHistoryRequired (a restored aggregate: decide again on the full history).
// No transactions is no refusal (every row of the file was refused before):
// the portfolio is still checked. Nothing is emitted; the work is one check a
// transaction, as the import's.
func (p *Portfolio) PreviewImport(txs []Transaction, meta Meta) (checked []Transaction, refused []error, err error) {
	if err := p.checkCommand(meta); err != nil {
		return nil, nil, err
	}
	if len(txs) > MaxImport {
		return nil, nil, fmt.Errorf("%w: an import holds 1 to %d transactions, not %d", ErrInvalidCommand, MaxImport, len(txs))
	}
	if err := p.checkTransactionQuota(len(txs)); err != nil {
		return nil, nil, err
	}
	scratch := p.clone()
	version := p.version + 1
	checked, refused = slices.Clone(txs), make([]error, len(txs))
	for i := range checked {
		tx := checked[i]
		err := scratch.checkImported(&tx, meta, SeqOf(version, i))
		if errors.Is(err, ErrHistoryRequired) {
			return nil, nil, err
		}
		if err != nil {
			refused[i] = err
			continue
		}
		checked[i].FXRate = tx.FXRate
		scratch.foldRecorded(&tx)
	}
	return checked, refused, nil
}

// checkImported is what an import checks of one transaction against the
// portfolio as the rows before it leave it; the transaction gets its ID and
// seq (its place in the replay order the timeline check sorts by).
func (p *Portfolio) checkImported(tx *Transaction, meta Meta, seq int64) error {
	if err := tx.Validate(); err != nil {
		return err
	}
	if err := tx.CheckBounds(meta.Now); err != nil {
		return err
	}
	if err := p.checkCurrency(tx); err != nil {
		return err
	}
	tx.ID, tx.Seq = meta.newID(), seq
	if changesQuantity(tx.Type) {
		return p.checkTimeline(tx.Symbol, tx, "")
	}
	return nil
}

func (p *Portfolio) recordOne(tx Transaction, meta Meta) (Transaction, error) {
	if err := tx.Validate(); err != nil {
		return Transaction{}, err
	}
	if err := tx.CheckBounds(meta.Now); err != nil {
		return Transaction{}, err
	}
	if err := p.checkCurrency(&tx); err != nil {
		return Transaction{}, err
	}
	tx.ID = meta.newID()
	tx.Seq = SeqOf(p.version+1, 0)
	if changesQuantity(tx.Type) {
		if err := p.checkTimeline(tx.Symbol, &tx, ""); err != nil {
			return Transaction{}, err
		}
	}
	if err := p.emitWithID(meta, tx.ID, &TransactionRecorded{Transaction: tx}); err != nil {
		return Transaction{}, err
	}
	return tx, nil
}

// VoidTransaction removes a transaction from every calculation, keeping it in the
// audit trail. A void that would leave any later position negative is refused.
func (p *Portfolio) VoidTransaction(txID, reason string, meta Meta) error {
	if err := p.checkCommand(meta); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 || HasControl(reason) || HasBidiControl(reason) {
		return fmt.Errorf("%w: a void needs a reason of 1 to 500 characters", ErrInvalidCommand)
	}
	tx, voided, err := p.Transaction(txID)
	if err != nil {
		return err
	}
	if voided {
		return fmt.Errorf("%w: %s", ErrAlreadyVoided, txID)
	}
	if changesQuantity(tx.Type) {
		if err := p.checkTimeline(tx.Symbol, nil, txID); err != nil {
			return fmt.Errorf("voiding %s: %w", txID, err)
		}
	}
	return p.emit(meta, &TransactionVoided{TransactionID: txID, Reason: reason, Voided: tx})
}

// checkTransactionQuota refuses adding n transactions past
// quota.TransactionsPerPortfolio. Voided transactions count: their events stay
// in the history that every full load folds.
func (p *Portfolio) checkTransactionQuota(n int) error {
	if would := p.recorded + n; would > quota.TransactionsPerPortfolio.Limit {
		return fmt.Errorf("portfolio %s: %w", p.id, quota.Exceeded(quota.TransactionsPerPortfolio, would))
	}
	return nil
}

// checkCurrency holds a transaction's currency to the portfolio: a trade in the
// currency of the symbol's earlier trades, and an fxRate exactly when its cash
// settles in another currency than the base. A CONVERSION into the base carries
// its own rate (what the base amount paid per unit), so it needs none given.
func (p *Portfolio) checkCurrency(tx *Transaction) error {
	if tx.Type.IsTrade() {
		// A stale symbol (a void folded from a snapshot) may have lost its last
		// trade in that currency: its timeline check asks for the history, and
		// the currency is checked again on it.
		if s := p.symbols[tx.Symbol]; s != nil && !s.stale && s.currency != "" && s.currency != tx.Currency {
			return fmt.Errorf("%w: %s trades in %s in this portfolio, not %s", ErrCurrencyMismatch, tx.Symbol, s.currency, tx.Currency)
		}
	}
	if tx.Type == Conversion && tx.ToCurrency == p.baseCurrency && tx.Currency != p.baseCurrency {
		implied := tx.ToAmount.DivRound(tx.Amount, FXRateDigits)
		if !tx.FXRate.IsZero() && !tx.FXRate.Equal(implied) {
			return fmt.Errorf("%w: fxRate %s contradicts the conversion's amounts (%s / %s = %s): leave it out", ErrInvalidTransaction, tx.FXRate, tx.ToAmount, tx.Amount, implied)
		}
		tx.FXRate = implied
		if err := checkFXRate(tx.FXRate); err != nil {
			return fmt.Errorf("%w (the rate %s / %s implies)", err, tx.ToAmount, tx.Amount)
		}
	}
	if tx.Type == Split && tx.Fee.IsZero() && tx.Tax.IsZero() {
		// Moves no money: its currency is only the symbol's, and a rate would
		// only mislead the fallbacks that read recorded rates.
		if !tx.FXRate.IsZero() {
			return fmt.Errorf("%w: a split without charges moves no money and takes no fxRate", ErrInvalidTransaction)
		}
		return nil
	}
	if tx.Settlement() == p.baseCurrency {
		if !tx.FXRate.IsZero() && !tx.FXRate.Equal(one) {
			return fmt.Errorf("%w: fxRate %s given for a transaction in %s, the portfolio's own currency", ErrCurrencyMismatch, tx.FXRate, tx.Currency)
		}
		tx.FXRate = decimal.Decimal{}
		return nil
	}
	if !tx.FXRate.IsPositive() {
		return fmt.Errorf("%w: a transaction in %s in a %s portfolio needs the %s→%s rate of %s (fxRate)", ErrFXRateRequired, tx.Currency, p.baseCurrency, tx.Settlement(), p.baseCurrency, tx.Date)
	}
	return nil
}

func changesQuantity(t TxType) bool { return t == Buy || t == Sell || t == Split }

// inOrder reports whether tx lands at the end of the symbol's timeline, where the
// current quantity is the quantity held on its date. A split applies before the
// trades of its own day, so it is in order only on a later day.
func inOrder(s *symbolState, tx *Transaction) bool {
	if s == nil {
		return true
	}
	if tx.Type == Split {
		return tx.Date > s.lastDate
	}
	return tx.Date >= s.lastDate
}

// checkTimeline verifies that the symbol's position never goes negative with tx
// added (tx != nil) or with the transaction voidID removed.
func (p *Portfolio) checkTimeline(symbol string, add *Transaction, voidID string) error {
	s := p.symbols[symbol]
	if add != nil && inOrder(s, add) && (s == nil || !s.stale) {
		held := decimal.Zero
		if s != nil {
			held = s.quantity
		}
		switch add.Type {
		case Buy:
			return CheckQuantity(symbol, held.Add(add.Quantity))
		case Split:
			return CheckQuantity(symbol, add.Ratio.Apply(held))
		}
		if _, ok := ApplySell(held, add.Quantity); !ok {
			return fmt.Errorf("%w: selling %s %s on %s, but %s held then", ErrInsufficientHoldings, add.Quantity, symbol, add.Date, held)
		}
		return nil
	}
	if p.hist == nil {
		return fmt.Errorf("portfolio %s: %s is out of date order: %w", p.id, symbol, ErrHistoryRequired)
	}
	timeline := p.hist.symbolTimeline(symbol, voidID)
	if add != nil {
		timeline = append(timeline, *add)
	}
	SortForReplay(timeline)
	if _, err := walkQuantity(symbol, timeline, true); err != nil {
		return err
	}
	return nil
}

// walkQuantity replays quantity-changing transactions and fails on the first date
// the position would go negative, or, bounded, reach MaxQuantity (a decision on
// new input; a fold of what is stored is not bounded).
func walkQuantity(symbol string, timeline []Transaction, bounded bool) (decimal.Decimal, error) {
	q := decimal.Zero
	for i := range timeline {
		tx := &timeline[i]
		switch tx.Type {
		case Buy:
			q = q.Add(tx.Quantity)
		case Sell:
			left, ok := ApplySell(q, tx.Quantity)
			if !ok {
				return q, fmt.Errorf("%w: selling %s %s on %s, but %s held then", ErrInsufficientHoldings, tx.Quantity, symbol, tx.Date, q)
			}
			q = left
		case Split:
			q = tx.Ratio.Apply(q)
		}
		if bounded {
			if err := CheckQuantity(symbol, q); err != nil {
				return q, fmt.Errorf("%w (on %s)", err, tx.Date)
			}
		}
	}
	return q, nil
}

func (p *Portfolio) checkCommand(meta Meta) error {
	if !p.exists() {
		return fmt.Errorf("%w: portfolio", ErrNotFound)
	}
	if err := checkMeta(meta); err != nil {
		return err
	}
	if !p.isOwnedBy(meta.UserID) {
		return fmt.Errorf("%w: portfolio %s", ErrNotFound, p.id)
	}
	if p.archived {
		return fmt.Errorf("%w: portfolio %s accepts no changes", ErrArchived, p.id)
	}
	return nil
}

func checkMeta(meta Meta) error {
	if meta.UserID == "" {
		return fmt.Errorf("%w: command without a user", ErrInvalidCommand)
	}
	if meta.Now.IsZero() {
		return fmt.Errorf("%w: command without a time", ErrInvalidCommand)
	}
	return nil
}

func cleanDetails(name, description string) (string, string, error) {
	name = strings.TrimSpace(name)
	description = strings.TrimSpace(description)
	if HasInvisible(name) || HasInvisible(description) {
		return "", "", fmt.Errorf("%w: name and description may not contain control or invisible characters (bidi controls, zero-width spaces)", ErrInvalidCommand)
	}
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", "", fmt.Errorf("%w: name must be 1 to 100 characters", ErrInvalidCommand)
	}
	if utf8.RuneCountInString(description) > 1000 {
		return "", "", fmt.Errorf("%w: description must be at most 1000 characters", ErrInvalidCommand)
	}
	return name, description, nil
}

func (p *Portfolio) emit(meta Meta, data EventData) error {
	return p.emitWithID(meta, meta.newID(), data)
}

// emitWithID builds the next event, folds it into the state and queues it.
func (p *Portfolio) emitWithID(meta Meta, eventID string, data EventData) error {
	e := Event{
		EventID:       eventID,
		EventType:     data.eventType(),
		AggregateID:   p.id,
		AggregateType: AggregateType,
		Version:       p.version + 1,
		Timestamp:     meta.Now.UTC(),
		UserID:        meta.UserID,
		CorrelationID: meta.CorrelationID,
		CausationID:   meta.CausationID,
		RequestHash:   meta.RequestHash,
		SchemaVersion: SchemaVersionOf(data),
		Data:          data,
	}
	if err := p.Apply(e); err != nil {
		return err
	}
	p.pending = append(p.pending, e)
	return nil
}

// clone copies the state deeply enough that deciding on the copy never changes p.
// The history's transaction slice is shared: it is append-only and the copy's
// appends go past p's length.
func (p *Portfolio) clone() *Portfolio {
	c := *p
	c.symbols = make(map[string]*symbolState, len(p.symbols))
	for k, v := range p.symbols {
		s := *v
		c.symbols[k] = &s
	}
	c.recent = slices.Clone(p.recent)
	c.pending = slices.Clone(p.pending)
	if p.hist != nil {
		c.hist = p.hist.clone()
	}
	return &c
}

// ---------------------------------------------------------------- fold

// Apply folds one event into the state. Events must come in version order starting
// at 1 (or right after a snapshot). It returns ErrCorruptEvent, naming the
// aggregate and version, for an event that cannot follow the current state.
func (p *Portfolio) Apply(e Event) error {
	if e.Version != p.version+1 {
		return fmt.Errorf("%w: aggregate %s: event version %d does not follow %d", ErrCorruptEvent, e.AggregateID, e.Version, p.version)
	}
	if p.exists() && e.AggregateID != p.id {
		return fmt.Errorf("%w: event of aggregate %s version %d applied to %s", ErrCorruptEvent, e.AggregateID, e.Version, p.id)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: aggregate %s version %d: %s", ErrCorruptEvent, e.AggregateID, e.Version, fmt.Sprintf(format, args...))
	}
	switch d := e.Data.(type) {
	case *PortfolioCreated:
		if p.exists() {
			return corrupt("PortfolioCreated after version 1")
		}
		p.id, p.owner, p.createdAt = e.AggregateID, e.UserID, e.Timestamp
		p.name, p.description, p.baseCurrency, p.lotMethod = d.Name, d.Description, d.BaseCurrency, d.LotMethod
		p.symbols = make(map[string]*symbolState)
		p.hist = &history{}
	case *PortfolioDetailsChanged:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		p.name, p.description = d.Name, d.Description
	case *PortfolioArchived:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		p.archived = true
	case *TargetAllocationSet:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		a := d.TargetAllocation
		p.targets = &a
	case *AnalyticsSettingsChanged:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		s := d.AnalyticsSettings
		p.settings = &s
	case *TransactionRecorded:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		if d.ID == "" || d.Seq != SeqOf(e.Version, 0) {
			return corrupt("transaction without an ID, or with seq %d", d.Seq)
		}
		p.foldRecorded(&d.Transaction)
	case *TransactionsImported:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		for i := range d.Transactions {
			tx := &d.Transactions[i]
			if tx.ID == "" || tx.Seq != SeqOf(e.Version, i) {
				return corrupt("imported transaction %d without an ID, or with seq %d", i, tx.Seq)
			}
		}
		for i := range d.Transactions {
			p.foldRecorded(&d.Transactions[i])
		}
	case *TransactionVoided:
		if !p.exists() {
			return corrupt("%s before PortfolioCreated", e.EventType)
		}
		if err := p.foldVoided(d); err != nil {
			return corrupt("%v", err)
		}
	default:
		return corrupt("unknown event data %T", e.Data)
	}
	p.version = e.Version
	p.noteCommand(e.CausationID, e.RequestHash, e.Version)
	return nil
}

func (p *Portfolio) foldRecorded(tx *Transaction) {
	p.recorded++
	if p.hist != nil {
		p.hist.add(tx)
	}
	if !changesQuantity(tx.Type) {
		return
	}
	s := p.symbols[tx.Symbol]
	if s == nil {
		s = &symbolState{lastDate: tx.Date}
		p.symbols[tx.Symbol] = s
	}
	if tx.Type.IsTrade() && s.currency == "" {
		s.currency = tx.Currency
	}
	if inOrder(s, tx) && !s.stale {
		switch tx.Type {
		case Buy:
			s.quantity = s.quantity.Add(tx.Quantity)
		case Sell:
			s.quantity, _ = ApplySell(s.quantity, tx.Quantity)
		case Split:
			s.quantity = tx.Ratio.Apply(s.quantity)
		}
	} else {
		p.recomputeSymbol(tx.Symbol, s)
	}
	if tx.Date > s.lastDate {
		s.lastDate = tx.Date
	}
}

func (p *Portfolio) foldVoided(d *TransactionVoided) error {
	p.voidedCount++
	if p.hist != nil {
		i, ok := p.hist.lookup(d.TransactionID)
		if !ok {
			return fmt.Errorf("void of unknown transaction %s", d.TransactionID)
		}
		if p.hist.isVoided(i) {
			return fmt.Errorf("transaction %s voided twice", d.TransactionID)
		}
		if p.hist.voided == nil {
			p.hist.voided = make(map[int]struct{})
		}
		p.hist.voided[i] = struct{}{}
		voided := p.hist.at(i)
		return p.foldVoidedTx(voided.Type, voided.Symbol)
	}
	return p.foldVoidedTx(d.Voided.Type, d.Voided.Symbol)
}

func (p *Portfolio) foldVoidedTx(typ TxType, symbol string) error {
	if !changesQuantity(typ) {
		return nil
	}
	s := p.symbols[symbol]
	if s == nil {
		s = &symbolState{}
		p.symbols[symbol] = s
	}
	p.recomputeSymbol(symbol, s)
	return nil
}

// recomputeSymbol rebuilds a symbol's quantity from the history, or marks it stale
// when there is no history (folding from a snapshot).
func (p *Portfolio) recomputeSymbol(symbol string, s *symbolState) {
	if p.hist == nil {
		s.stale = true
		return
	}
	timeline := p.hist.symbolTimeline(symbol, "")
	SortForReplay(timeline)
	// Every recorded transaction passed the timeline check when decided, so the
	// walk cannot fail here; if stored history was edited by hand it clamps at the
	// failing point rather than inventing shares.
	q, _ := walkQuantity(symbol, timeline, false)
	s.quantity, s.stale = q, false
	// The currency is the active trades': a void of the only trade in a wrong
	// currency frees the symbol for the right one.
	s.currency = ""
	for i := range timeline {
		if timeline[i].Type.IsTrade() && timeline[i].Currency != "" {
			s.currency = timeline[i].Currency
			break
		}
	}
}

func (p *Portfolio) noteCommand(causationID, requestHash string, version int64) {
	if causationID == "" {
		return
	}
	key := CommandKey(causationID)
	if n := len(p.recent); n > 0 && p.recent[n-1].Key == key && p.recent[n-1].ToVersion == version-1 {
		p.recent[n-1].ToVersion = version
		return
	}
	// The list may grow to twice the kept length before the older half is dropped,
	// which makes each fold O(1) amortised; only the newest RecentCommandsKept count.
	if len(p.recent) == 2*RecentCommandsKept {
		n := copy(p.recent, p.recent[RecentCommandsKept:])
		clear(p.recent[n:])
		p.recent = p.recent[:n]
	}
	p.recent = append(p.recent, CommandRecord{Key: key, FromVersion: version, ToVersion: version, RequestHash: ParseRequestHash(requestHash)})
}

// recentCommands returns the newest RecentCommandsKept command records.
func (p *Portfolio) recentCommands() []CommandRecord {
	if len(p.recent) > RecentCommandsKept {
		return p.recent[len(p.recent)-RecentCommandsKept:]
	}
	return p.recent
}

func (h *history) add(tx *Transaction) {
	if h.n%historyChunk == 0 {
		h.chunks = append(h.chunks, make([]*Transaction, 0, historyChunk))
	}
	last := len(h.chunks) - 1
	h.chunks[last] = append(h.chunks[last], tx)
	i := h.n
	h.n++
	if h.index != nil {
		h.index[tx.ID] = i
	}
	if h.bySymbol != nil && changesQuantity(tx.Type) {
		h.bySymbol[tx.Symbol] = append(h.bySymbol[tx.Symbol], i)
	}
}

func (h *history) lookup(id string) (int, bool) {
	if h.index == nil {
		h.index = make(map[string]int, h.n)
		for i := 0; i < h.n; i++ {
			h.index[h.at(i).ID] = i
		}
	}
	i, ok := h.index[id]
	return i, ok
}

// symbolTimeline returns the symbol's active quantity-changing transactions,
// leaving out skipID, unsorted.
func (h *history) symbolTimeline(symbol, skipID string) []Transaction {
	if h.bySymbol == nil {
		h.bySymbol = make(map[string][]int)
		for i := 0; i < h.n; i++ {
			if tx := h.at(i); changesQuantity(tx.Type) {
				h.bySymbol[tx.Symbol] = append(h.bySymbol[tx.Symbol], i)
			}
		}
	}
	idx := h.bySymbol[symbol]
	out := make([]Transaction, 0, len(idx)+1)
	for _, i := range idx {
		if tx := h.at(i); !h.isVoided(i) && tx.ID != skipID {
			out = append(out, *tx)
		}
	}
	return out
}
