package market

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// SymbolMatch is one answer of a provider's symbol search.
type SymbolMatch struct {
	Symbol      string `json:"symbol"`
	Description string `json:"description"`
	Type        string `json:"type,omitempty"`     // as the provider names it: "Common Stock", "ETF", "CS"
	Exchange    string `json:"exchange,omitempty"` // MIC or the provider's exchange code
	Currency    string `json:"currency,omitempty"` // ISO 4217, when the provider says
	Source      string `json:"source"`
}

// CorporateActionKind says what a corporate action is.
type CorporateActionKind string

// The corporate actions a provider reports and the portfolio owner is offered
// as suggested transactions.
const (
	ActionSplit    CorporateActionKind = "split"
	ActionDividend CorporateActionKind = "dividend"
)

// CorporateAction is a split or a cash dividend of Symbol as the provider
// reports it. Date is the day it takes effect: a split's execution date, a
// dividend's ex-date (holders at the close before it are paid). A split of
// SplitFrom into SplitTo shares (1 → 4 is SplitFrom 1, SplitTo 4); a dividend
// pays CashAmount per share in Currency on PayDate (nil when unknown).
type CorporateAction struct {
	Kind       CorporateActionKind `json:"kind"`
	Symbol     string              `json:"symbol"`
	Date       calendar.Date       `json:"date"`
	PayDate    *calendar.Date      `json:"payDate,omitempty"`
	SplitFrom  decimal.Decimal     `json:"splitFrom,omitzero"`
	SplitTo    decimal.Decimal     `json:"splitTo,omitzero"`
	CashAmount decimal.Decimal     `json:"cashAmount,omitzero"`
	Currency   string              `json:"currency,omitempty"`
	Source     string              `json:"source"`
}

// Validate checks what every stored action holds: a symbol, a source, and either
// a split of two positive share counts that differ or a positive cash amount.
func (a CorporateAction) Validate() error {
	switch {
	case a.Symbol == "" || len(a.Symbol) > MaxSymbolLen:
		return fmt.Errorf("corporate action: symbol %q must be 1 to %d bytes", a.Symbol, MaxSymbolLen)
	case a.Source == "":
		return fmt.Errorf("corporate action %s: no source", a.Symbol)
	}
	switch a.Kind {
	case ActionSplit:
		if !a.SplitFrom.IsPositive() || !a.SplitTo.IsPositive() || a.SplitFrom.Equal(a.SplitTo) {
			return fmt.Errorf("split of %s on %s: %s → %s is not a split", a.Symbol, a.Date, a.SplitFrom, a.SplitTo)
		}
	case ActionDividend:
		if !a.CashAmount.IsPositive() {
			return fmt.Errorf("dividend of %s on %s: cash amount %s is not positive", a.Symbol, a.Date, a.CashAmount)
		}
	default:
		return fmt.Errorf("corporate action %s: unknown kind %q", a.Symbol, a.Kind)
	}
	return nil
}

// FXPair is a currency pair: one unit of Base costs Rate units of Quote. As a
// symbol it is written BASEQUOTE=X ("EURUSD=X": euros priced in dollars), so
// rates travel the same path as prices: the watch list, quotes on the stream,
// daily closes.
type FXPair struct{ Base, Quote string }

// fxSuffix marks a currency pair among symbols.
const fxSuffix = "=X"

// Symbol is the pair as a symbol: "EURUSD=X".
func (p FXPair) Symbol() string { return p.Base + p.Quote + fxSuffix }

// Inverse is the pair the other way round (USD per EUR → EUR per USD).
func (p FXPair) Inverse() FXPair { return FXPair{Base: p.Quote, Quote: p.Base} }

// ParseFXPair reads a symbol such as "EURUSD=X": two ISO 4217-shaped codes
// (three upper-case letters each) and the suffix. ok is false for any other
// symbol.
func ParseFXPair(symbol string) (pair FXPair, ok bool) {
	code, found := strings.CutSuffix(symbol, fxSuffix)
	if !found || len(code) != 6 || !isCurrencyCode(code[:3]) || !isCurrencyCode(code[3:]) || code[:3] == code[3:] {
		return FXPair{}, false
	}
	return FXPair{Base: code[:3], Quote: code[3:]}, true
}

// IsFX reports whether symbol is a currency pair.
func IsFX(symbol string) bool { _, ok := ParseFXPair(symbol); return ok }

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// HistoryState is where a symbol's backfill of daily closes stands, as the API
// shows it.
type HistoryState string

// The backfill states: pending (needed, not started), filling (started, more to
// fetch), complete (every needed day asked for), failed (the provider refused
// for a reason no retry mends, or the retries ran out; Reason says which).
const (
	HistoryPending  HistoryState = "pending"
	HistoryFilling  HistoryState = "filling"
	HistoryComplete HistoryState = "complete"
	HistoryFailed   HistoryState = "failed"
)

// HistoryStatus is one symbol's backfill: the days needed (from NeededFrom to
// yesterday), the days fetched so far (FilledFrom..FilledTo, nil before the
// first fetch), and when it last changed.
type HistoryStatus struct {
	Symbol     string         `json:"symbol"`
	State      HistoryState   `json:"state"`
	NeededFrom calendar.Date  `json:"neededFrom"`
	FilledFrom *calendar.Date `json:"filledFrom,omitempty"`
	FilledTo   *calendar.Date `json:"filledTo,omitempty"`
	Reason     string         `json:"reason,omitempty"`
	Source     string         `json:"source,omitempty"`
	UpdatedAt  time.Time      `json:"updatedAt"`
}

// WatchReason says why a symbol is on the watch list.
type WatchReason string

// The reasons a symbol is watched; a symbol with none drops out.
const (
	WatchHeld      WatchReason = "held"      // an open position in a portfolio that is not archived
	WatchAlert     WatchReason = "alert"     // an active alert rule
	WatchBenchmark WatchReason = "benchmark" // a portfolio's benchmark
	WatchWatched   WatchReason = "watched"   // a live WebSocket subscription
	WatchFX        WatchReason = "fx"        // a currency pair a portfolio needs
)

// WatchReasons lists every reason, in the order they are reported.
var WatchReasons = []WatchReason{WatchHeld, WatchAlert, WatchBenchmark, WatchWatched, WatchFX}

// WatchedSymbol is one symbol of the watch list with every reason it is on it.
type WatchedSymbol struct {
	Symbol  string        `json:"symbol"`
	Reasons []WatchReason `json:"reasons"`
}

// USDPair is the pair through which code's rates are kept: code against the
// dollar ("EURUSD=X", "JPYUSD=X"), whatever the market convention, so that one
// pair per currency prices every other through currency.Pivot. ok is false for
// USD itself.
func USDPair(code string) (FXPair, bool) {
	if code == "USD" || !isCurrencyCode(code) {
		return FXPair{}, false
	}
	return FXPair{Base: code, Quote: "USD"}, true
}
