package pricing

import (
	"context"
	"slices"
	"sync"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// Notifier delivers a message to every live connection of each user. The
// WebSocket adapter (PostToConnection over the connections table) implements it;
// message is marshalled to JSON as it is. An error means the delivery may not
// have reached everyone; the prices consumer logs it and moves on (pushes are
// best effort, after a batch's durable work), never retrying the batch for it.
type Notifier interface {
	Notify(ctx context.Context, userIDs []string, message any) error
}

// ValuationMessage is pushed to a portfolio's owner when a tick changes the
// portfolio's market value: {type:"valuation", portfolioId, marketValue, asOf,
// costBasis, unrealizedPnL, currency, eventId}, the PortfolioValueCalculated
// event's data flattened for the browser.
type ValuationMessage struct {
	Type          string `json:"type"` // "valuation"
	PortfolioID   string `json:"portfolioId"`
	MarketValue   string `json:"marketValue"` // decimal string, base currency
	AsOf          string `json:"asOf"`        // RFC 3339 UTC: the newest price used
	CostBasis     string `json:"costBasis,omitempty"`
	UnrealizedPnL string `json:"unrealizedPnL,omitempty"`
	Currency      string `json:"currency,omitempty"`
	EventID       string `json:"eventId,omitempty"` // the PortfolioValueCalculated event
	// Unpriced lists held symbols without a price, or without a rate from their
	// price's currency into the base; they are not in MarketValue.
	Unpriced []string `json:"unpriced,omitempty"`
	// CurrencyEffect is the part of UnrealizedPnL the exchange rates made
	// (market.PortfolioValuation), PriceEffect the rest (the prices' part);
	// both absent when none of the positions settles in another currency than
	// the base.
	CurrencyEffect string `json:"currencyEffect,omitempty"`
	PriceEffect    string `json:"priceEffect,omitempty"`
}

// SubscriptionNotifier is a Notifier that honours what each WebSocket connection
// subscribed to (push.Pusher): pick returns the messages for one connection of
// one of the users, given what that connection subscribed to.
type SubscriptionNotifier interface {
	NotifySubscribed(ctx context.Context, userIDs []string, pick func(Subscriptions) []any) error
}

// Subscriptions is what one live connection of UserID subscribed to: the
// portfolios whose valuations and the symbols whose quotes it wants, each
// sorted.
type Subscriptions struct {
	UserID     string
	Portfolios []string // sorted
	Symbols    []string // sorted
}

// SubscribedToPortfolio reports whether the connection subscribed to the portfolio.
func (s Subscriptions) SubscribedToPortfolio(id string) bool {
	_, ok := slices.BinarySearch(s.Portfolios, id)
	return ok
}

// PriceMessage carries the batch's quotes of the symbols a connection subscribed
// to: {type:"price", quotes:[{symbol, price, asOf, previousClose}]}. Quotes reach
// the connections of users holding a ticked symbol (the connections table has no
// index by symbol; see package wsconn).
type PriceMessage struct {
	Type   string  `json:"type"` // "price"
	Quotes []Quote `json:"quotes"`
}

// Quote is one symbol's newest price in a PriceMessage; decimals as strings.
type Quote struct {
	Symbol        string `json:"symbol"`
	Price         string `json:"price"`
	AsOf          string `json:"asOf"`
	PreviousClose string `json:"previousClose,omitempty"`
	Currency      string `json:"currency,omitempty"` // of Price ("GBp": pence); absent when the feed did not say
}

// AlertMessage is pushed to a rule's owner when a price alert fires.
type AlertMessage struct {
	Type   string        `json:"type"` // "alert"
	Firing alerts.Firing `json:"firing"`
}

// NewAlertMessage is the message that delivers f to its owner, with the rule
// ID and key as the owner named them.
func NewAlertMessage(f alerts.Firing) AlertMessage {
	return AlertMessage{Type: "alert", Firing: f.ForOwner()}
}

// AlertStore is the storage the price alerts need: the price rules on a set of
// symbols (price_above, price_below, percent_move) and the engine state of those
// rules, saved after each batch once its firings are recorded (FiringRecorder),
// so a batch whose writes failed is re-evaluated and fires under the same keys
// (firing keys de-duplicate). Pushing the firings is not a condition: a push
// that fails is not retried, and the history keeps the firing.
type AlertStore interface {
	PriceRules(ctx context.Context, symbols []string) ([]alerts.Rule, alerts.State, error)
	SaveState(ctx context.Context, rules []alerts.Rule, s alerts.State) error
}

// PortfolioAlertStore is the storage the portfolio alerts need: the rules of a set
// of portfolios listening to some metrics (the prices consumer asks for
// alerts.MetricValue, value_drop), with their state, the portfolios' recent values
// included. SaveState saves them as for price rules.
type PortfolioAlertStore interface {
	PortfolioRules(ctx context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error)
	SaveState(ctx context.Context, rules []alerts.Rule, s alerts.State) error
}

// StateMarker is implemented by an AlertStore whose rules and state a consumer
// may keep in memory between batches. Each alert key (SymbolKey for price rules,
// PortfolioKey for portfolio rules) has a mark that moves whenever the key's rules
// change or someone saves their state. A consumer reloads the keys whose mark is
// not the one its copy reflects, and after saving a key's state claims its mark
// with a token of its own; a claim fails for a key whose mark moved meanwhile, and
// the consumer then reloads that key next time.
//
// StateMarkChanges is the marks' change feed: the marks that may have moved since
// a cursor (the zero cursor: none, only a cursor to start from), less the tokens
// starting with ownPrefix (the caller's own claims), and the next cursor. A warm
// consumer reads the feed instead of the marks of every key it evaluates.
//
// SaveValueSamples keeps portfolios' recent values (alerts.Engine.ValueHistories)
// for the next engine that loads their value_drop rules, without a claim: the
// values move with every batch, and a warm engine that misses another's samples
// only samples the portfolio's value less often (see the consumer).
type StateMarker interface {
	StateMarks(ctx context.Context, keys []string) (map[string]string, error)
	StateMarkChanges(ctx context.Context, since uint64, ownPrefix string) (changed map[string]string, next uint64, err error)
	ClaimStateMarks(ctx context.Context, expected map[string]string, token string) (lost []string, err error)
	SaveValueSamples(ctx context.Context, portfolioIDs []string, samples [][]alerts.ValueSample) error
}

// SymbolKey is the alert key of the price rules on symbol.
func SymbolKey(symbol string) string { return "s:" + symbol }

// PortfolioKey is the alert key of the rules on a portfolio.
func PortfolioKey(portfolioID string) string { return "p:" + portfolioID }

// FiringRecorder is implemented by an AlertStore that keeps an alert history:
// the consumer records a batch's firings before delivering them. Recording a
// firing key again must change nothing (a retried batch fires under the same
// keys). An error leaves the state unsaved, so the batch is re-evaluated.
type FiringRecorder interface {
	RecordFirings(ctx context.Context, firings []alerts.Firing) error
}

// Delivery is one Notify call recorded by MemoryNotifier.
type Delivery struct {
	UserIDs []string
	Message any
}

// MemoryNotifier records deliveries (tests; a local run without WebSockets).
type MemoryNotifier struct {
	mu         sync.Mutex
	deliveries []Delivery
	// Fail, when set, is returned by Notify (after recording nothing).
	Fail error
}

// Notify implements Notifier.
func (n *MemoryNotifier) Notify(_ context.Context, userIDs []string, message any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.Fail != nil {
		return n.Fail
	}
	n.deliveries = append(n.deliveries, Delivery{UserIDs: slices.Clone(userIDs), Message: message})
	return nil
}

// Deliveries returns what was delivered so far.
func (n *MemoryNotifier) Deliveries() []Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.deliveries)
}
