package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// SymbolHistory is the in-memory readmodel.SymbolHistory: the per-symbol
// backfill records, and the rows of the other tables its statements read (the
// portfolios with their transactions' symbols and days, the alert rules'
// symbols, the WebSocket watches, when each portfolio's analytics were
// computed), which tests seed as the projection and the other stores would
// write them.
type SymbolHistory struct {
	mu         sync.Mutex
	records    map[string]historyRecord // by symbol
	portfolios map[string]HistoryPortfolio
	rules      []string // the symbols of the alert rules
	watches    []historyWatch
	computedAt map[string]time.Time // by portfolio: the latest computed_at
}

// HistoryPortfolio is a portfolio as the backfill's statements read it.
type HistoryPortfolio struct {
	ID, BaseCurrency, Benchmark string
	Archived                    bool
	Trades                      []HistoryTrade
}

// HistoryTrade is one of a portfolio's transactions; Symbol "" is a cash
// movement. Currency is the transaction's ("": USD), ToCurrency a conversion's
// incoming one.
type HistoryTrade struct {
	Symbol     string
	Day        calendar.Date
	Voided     bool
	RecordedAt time.Time // zero: long ago
	// Currency is the transaction's (GBp for a London listing; "" is USD),
	// ToCurrency a conversion's incoming one.
	Currency, ToCurrency string
}

// HistoryRow is a record with what market.HistoryStatus does not show, for
// tests: its failures in a row, when a run may take it next, and when its last
// backfill completed (zero before the first).
type HistoryRow struct {
	market.HistoryStatus
	Attempts      int
	NextAttemptAt time.Time
	CompletedAt   time.Time
}

type historyRecord struct {
	symbol               string
	state                market.HistoryState
	neededFrom           calendar.Date
	filled               bool // filledFrom..filledTo hold the days asked for so far
	filledFrom, filledTo calendar.Date
	attempts             int
	reason, source       string
	nextAttemptAt        time.Time
	updatedAt            time.Time
	completedAt          time.Time // zero before the first completion
	priority             int       // 0: a portfolio's (or an operator's), 1: an alert's or a watch's only
	actionsCheckedAt     time.Time // zero: the recent corporate actions never asked for
	lastTradedAt         time.Time // when the newest active transaction on the symbol was recorded
}

// historyNeed is when a symbol is needed from, and how urgently (the
// record's priority).
type historyNeed struct {
	from       calendar.Date
	priority   int
	lastTraded time.Time
}

type historyWatch struct {
	symbol string
	until  time.Time
}

// maxReason bounds a failure's reason in bytes, as the PostgreSQL store does.
const maxReason = 1000

// errNoHistory is the PostgreSQL store's answer for a symbol never recorded.
var errNoHistory = errors.New("no such symbol history")

// NewSymbolHistory returns an empty store.
func NewSymbolHistory() *SymbolHistory {
	return &SymbolHistory{records: map[string]historyRecord{}, portfolios: map[string]HistoryPortfolio{},
		computedAt: map[string]time.Time{}}
}

var _ history.Store = (*SymbolHistory)(nil)

// PutPortfolio records (or replaces) a portfolio and its transactions.
func (s *SymbolHistory) PutPortfolio(p HistoryPortfolio) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.Trades = slices.Clone(p.Trades)
	s.portfolios[p.ID] = p
}

// PutAlertRule records an alert rule on symbol.
func (s *SymbolHistory) PutAlertRule(symbol string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, symbol)
}

// PutWatch records that a connection watches symbol until until.
func (s *SymbolHistory) PutWatch(symbol string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watches = append(s.watches, historyWatch{symbol: symbol, until: stamp(until)})
}

// PutComputedAt records that the portfolio's analytics were computed at at.
func (s *SymbolHistory) PutComputedAt(portfolioID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at = stamp(at); at.After(s.computedAt[portfolioID]) {
		s.computedAt[portfolioID] = at
	}
}

// Row returns symbol's record as it stands; ok is false when none is.
func (s *SymbolHistory) Row(symbol string) (row HistoryRow, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[symbol]
	if !ok {
		return HistoryRow{}, false
	}
	return HistoryRow{HistoryStatus: r.status(), Attempts: r.attempts, NextAttemptAt: r.nextAttemptAt, CompletedAt: r.completedAt}, true
}

// Reconcile implements history.Store: the needs derived as the PostgreSQL
// store's statement derives them, recorded in the same call.
func (s *SymbolHistory) Reconcile(_ context.Context, needs history.Needs, now time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = stamp(now)
	var n int64
	for symbol, nd := range s.needed(needs, now) {
		if s.need(symbol, nd, now) {
			n++
		}
	}
	return n, nil
}

// needed is every symbol needed and from when: the symbols of the active
// transactions and the benchmark of every portfolio not archived, and the
// currency pair of every currency it needs other than the quotes' (its base,
// the currency each active transaction settles in, each conversion's incoming
// one), from the portfolio's first trade (a cash movement counts); the symbols of alert rules
// and live watches over the lookback; nothing before the earliest day, and no
// symbol longer than a symbol may be. The priority is 0 when a portfolio
// needs the symbol, else 1.
func (s *SymbolHistory) needed(needs history.Needs, now time.Time) map[string]historyNeed {
	out := map[string]historyNeed{}
	add := func(symbol string, from calendar.Date, priority int, traded time.Time) {
		if utf8.RuneCountInString(symbol) > market.MaxSymbolLen {
			return
		}
		cur, ok := out[symbol]
		if !ok {
			cur = historyNeed{from: from, priority: priority, lastTraded: traded}
		}
		cur.from, cur.priority = min(cur.from, from), min(cur.priority, priority)
		if traded.After(cur.lastTraded) {
			cur.lastTraded = traded
		}
		out[symbol] = cur
	}
	for _, p := range s.portfolios {
		first, ok := firstTrade(p)
		if p.Archived || !ok {
			continue
		}
		for _, tr := range p.Trades {
			if !tr.Voided && tr.Symbol != "" {
				add(tr.Symbol, first, 0, stamp(tr.RecordedAt))
			}
		}
		if p.Benchmark != "" {
			add(p.Benchmark, first, 0, time.Time{})
		}
		for _, c := range neededCurrencies(p) {
			if pair, ok := market.ParseFXPair(c + needs.QuoteCurrency + "=X"); ok {
				add(pair.Symbol(), first, 0, time.Time{})
			}
		}
	}
	lookback := needs.Today.AddDays(-needs.Lookback)
	for _, symbol := range s.rules {
		if symbol != "" {
			add(symbol, lookback, 1, time.Time{})
		}
	}
	for _, w := range s.watches {
		if w.until.After(now) {
			add(w.symbol, lookback, 1, time.Time{})
		}
	}
	for symbol, nd := range out {
		nd.from = max(nd.from, needs.Earliest)
		out[symbol] = nd
	}
	return out
}

// neededCurrencies are the currencies p's rates are needed in: its base, the
// currency each active transaction settles in (GBP for GBp; USD when it has
// none), each conversion's incoming one. With repeats.
func neededCurrencies(p HistoryPortfolio) []string {
	out := []string{p.BaseCurrency}
	for _, tr := range p.Trades {
		if tr.Voided {
			continue
		}
		settle, _ := currency.Settlement(tr.Currency)
		if settle == "" {
			settle = "USD"
		}
		out = append(out, settle)
		if tr.ToCurrency != "" {
			out = append(out, tr.ToCurrency)
		}
	}
	return out
}

// firstTrade is the day of p's first active transaction.
func firstTrade(p HistoryPortfolio) (calendar.Date, bool) {
	var first calendar.Date
	found := false
	for _, tr := range p.Trades {
		if !tr.Voided && (!found || tr.Day.Before(first)) {
			first, found = tr.Day, true
		}
	}
	return first, found
}

// need records symbol as needed from nd.from, and reports whether the record
// changed: a new one is pending, due at once; one needed further back than
// recorded goes back to pending, due at once, its failures forgotten, unless a
// run holds it (filling, its lease running). The priority follows nd.
func (s *SymbolHistory) need(symbol string, nd historyNeed, now time.Time) bool {
	r, ok := s.records[symbol]
	if !ok {
		s.records[symbol] = historyRecord{symbol: symbol, state: market.HistoryPending, neededFrom: nd.from, nextAttemptAt: now, updatedAt: now,
			priority: nd.priority, lastTradedAt: nd.lastTraded}
		return true
	}
	further := nd.from.Before(r.neededFrom)
	traded := nd.lastTraded.After(r.lastTradedAt)
	if !further && !traded && nd.priority == r.priority {
		return false
	}
	r.priority = nd.priority
	if traded {
		r.lastTradedAt = nd.lastTraded
	}
	if further {
		if !(r.state == market.HistoryFilling && r.nextAttemptAt.After(now)) {
			r.state, r.nextAttemptAt = market.HistoryPending, now
		}
		r.neededFrom, r.attempts, r.reason, r.updatedAt = nd.from, 0, "", now
	}
	s.records[symbol] = r
	return true
}

// Enqueue implements history.Store.
func (s *SymbolHistory) Enqueue(_ context.Context, symbol string, from calendar.Date, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.need(symbol, historyNeed{from: from}, stamp(now))
	return nil
}

// Claim implements history.Store: of the records due, a portfolio's before an
// alert's or a watch's, one not failed before a failed one's retry, the one
// due longest ago (then by symbol), held until leaseUntil.
func (s *SymbolHistory) Claim(_ context.Context, now, leaseUntil time.Time) (history.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = stamp(now)
	var due []historyRecord
	for _, r := range s.records {
		if r.state != market.HistoryComplete && !r.nextAttemptAt.After(now) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return history.Record{}, false, nil
	}
	r := slices.MinFunc(due, func(a, b historyRecord) int {
		failed := func(r historyRecord) int {
			if r.state == market.HistoryFailed {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(failed(a), failed(b)), a.nextAttemptAt.Compare(b.nextAttemptAt),
			cmp.Compare(a.symbol, b.symbol))
	})
	st := r.status()
	claimed := history.Record{Symbol: r.symbol, State: r.state, NeededFrom: r.neededFrom, FilledFrom: st.FilledFrom,
		FilledTo: st.FilledTo, Attempts: r.attempts}
	r.state, r.nextAttemptAt, r.updatedAt = market.HistoryFilling, stamp(leaseUntil), now
	s.records[r.symbol] = r
	return claimed, true, nil
}

// update applies change to symbol's record, an error when there is none.
func (s *SymbolHistory) update(what, symbol string, change func(r *historyRecord) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[symbol]
	if !ok {
		return fmt.Errorf("memstore: %s history of %s: %w", what, symbol, errNoHistory)
	}
	if err := change(&r); err != nil {
		return fmt.Errorf("memstore: %s history of %s: %w", what, symbol, err)
	}
	s.records[symbol] = r
	return nil
}

// Progress implements history.Store.
func (s *SymbolHistory) Progress(_ context.Context, symbol string, from, to calendar.Date, source string, now, leaseUntil time.Time) (calendar.Date, error) {
	var needed calendar.Date
	err := s.update("progress", symbol, func(r *historyRecord) error {
		if r.filled {
			from, to = min(from, r.filledFrom), max(to, r.filledTo)
		}
		if from.After(to) { // the table's check
			return fmt.Errorf("filled from %s after %s", from, to)
		}
		r.filled, r.filledFrom, r.filledTo = true, from, to
		r.state, r.source, r.attempts, r.reason = market.HistoryFilling, source, 0, ""
		r.nextAttemptAt, r.updatedAt = stamp(leaseUntil), stamp(now)
		needed = r.neededFrom
		return nil
	})
	return needed, err
}

// Complete implements history.Store.
func (s *SymbolHistory) Complete(_ context.Context, symbol string, plannedFrom calendar.Date, source string, now time.Time) error {
	now = stamp(now)
	return s.update("complete", symbol, func(r *historyRecord) error {
		if r.neededFrom.Before(plannedFrom) {
			r.state = market.HistoryPending
		} else {
			r.state, r.completedAt, r.actionsCheckedAt = market.HistoryComplete, now, time.Time{}
		}
		r.source, r.attempts, r.reason, r.nextAttemptAt, r.updatedAt = source, 0, "", now, now
		return nil
	})
}

// ClaimActions implements history.Store: of the complete records due (asked
// before before, or never, or before a transaction on the symbol was
// recorded), the one asked for longest ago (never first, then by symbol),
// marked asked for at now.
func (s *SymbolHistory) ClaimActions(_ context.Context, now, before time.Time) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, before = stamp(now), stamp(before)
	var due []historyRecord
	for _, r := range s.records {
		if r.state == market.HistoryComplete && (r.actionsCheckedAt.IsZero() || !r.actionsCheckedAt.After(before) ||
			r.actionsCheckedAt.Before(r.lastTradedAt)) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return "", false, nil
	}
	r := slices.MinFunc(due, func(a, b historyRecord) int {
		return cmp.Or(a.actionsCheckedAt.Compare(b.actionsCheckedAt), cmp.Compare(a.symbol, b.symbol))
	})
	r.actionsCheckedAt = now
	s.records[r.symbol] = r
	return r.symbol, true, nil
}

// ReleaseActions implements history.Store.
func (s *SymbolHistory) ReleaseActions(_ context.Context, symbol string) error {
	return s.update("release the actions", symbol, func(r *historyRecord) error {
		r.actionsCheckedAt = time.Time{}
		return nil
	})
}

// Release implements history.Store.
func (s *SymbolHistory) Release(_ context.Context, symbol string, at, now time.Time) error {
	return s.update("release", symbol, func(r *historyRecord) error {
		r.state = market.HistoryPending
		if r.filled {
			r.state = market.HistoryFilling
		}
		r.nextAttemptAt, r.updatedAt = stamp(at), stamp(now)
		return nil
	})
}

// Fail implements history.Store.
func (s *SymbolHistory) Fail(_ context.Context, symbol string, f history.Failure, now time.Time) error {
	return s.update("fail", symbol, func(r *historyRecord) error {
		switch {
		case f.Final:
			r.state = market.HistoryFailed
		case r.filled:
			r.state = market.HistoryFilling
		default:
			r.state = market.HistoryPending
		}
		reason := f.Reason
		if len(reason) > maxReason {
			reason = strings.ToValidUTF8(reason[:maxReason], "")
		}
		r.attempts, r.reason, r.nextAttemptAt, r.updatedAt = r.attempts+1, reason, stamp(f.RetryAt), stamp(now)
		return nil
	})
}

// Status returns the records of symbols (those recorded), by symbol.
func (s *SymbolHistory) Status(_ context.Context, symbols []string) (map[string]market.HistoryStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]market.HistoryStatus{}
	for _, symbol := range symbols {
		if r, ok := s.records[symbol]; ok {
			out[symbol] = r.status()
		}
	}
	return out, nil
}

// status is the record as the API shows it, sharing no memory with the store.
func (r historyRecord) status() market.HistoryStatus {
	h := market.HistoryStatus{Symbol: r.symbol, State: r.state, NeededFrom: r.neededFrom, Reason: r.reason, Source: r.source,
		UpdatedAt: r.updatedAt}
	if r.filled {
		from, to := r.filledFrom, r.filledTo
		h.FilledFrom, h.FilledTo = &from, &to
	}
	return h
}

// StaleAfterBackfill returns up to limit portfolios (not archived) whose
// analytics were last computed before a backfill of one of their symbols
// completed since since, least recently computed first: a traded symbol, the
// benchmark, or the pair against quoteCurrency of a currency the figures
// convert (the base's, a transaction's settlement currency, a conversion's
// incoming one). Portfolios never computed are left out.
func (s *SymbolHistory) StaleAfterBackfill(_ context.Context, quoteCurrency string, since time.Time, limit int) ([]string, error) {
	if limit < 0 {
		return nil, fmt.Errorf("memstore: portfolios stale after a backfill: limit %d", limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	since = stamp(since)
	completed := func(symbol string) time.Time { // zero unless completed since since
		if r, ok := s.records[symbol]; ok && r.completedAt.After(since) {
			return r.completedAt
		}
		return time.Time{}
	}
	type stale struct {
		id         string
		computedAt time.Time
	}
	var list []stale
	for id, p := range s.portfolios {
		latest := completed(p.Benchmark)
		touch := func(symbol string) {
			if at := completed(symbol); at.After(latest) {
				latest = at
			}
		}
		touchPair := func(code string) {
			if settle, _ := currency.Settlement(code); settle != quoteCurrency {
				touch(market.FXPair{Base: settle, Quote: quoteCurrency}.Symbol())
			}
		}
		touchPair(p.BaseCurrency)
		for _, tr := range p.Trades {
			if tr.Voided {
				continue
			}
			if tr.Symbol != "" {
				touch(tr.Symbol)
			}
			touchPair(cmp.Or(tr.Currency, "USD"))
			if tr.ToCurrency != "" {
				touchPair(tr.ToCurrency)
			}
		}
		at, computed := s.computedAt[id]
		if !p.Archived && computed && !latest.IsZero() && at.Before(latest) {
			list = append(list, stale{id, at})
		}
	}
	slices.SortFunc(list, func(a, b stale) int { return cmp.Or(a.computedAt.Compare(b.computedAt), cmp.Compare(a.id, b.id)) })
	out := []string{}
	for _, p := range list[:min(limit, len(list))] {
		out = append(out, p.id)
	}
	return out, nil
}
