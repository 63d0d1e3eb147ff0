package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// SymbolHolders is the portfolios and transactions tables as Offer reads them:
// the portfolios, not archived, with active transactions in a symbol. Holdings
// implements it; so does the in-memory query store (memquery).
type SymbolHolders interface {
	SymbolHolders(symbol string) []suggestions.Holder
}

// Holdings stands for the portfolios and their transactions; tests fill it as
// the projection would.
type Holdings struct {
	mu      sync.RWMutex
	holders map[string]suggestions.Holder // by portfolio
}

// NewHoldings returns an empty directory.
func NewHoldings() *Holdings { return &Holdings{holders: map[string]suggestions.Holder{}} }

// Put records (or replaces) a portfolio with its active transactions.
func (h *Holdings) Put(holder suggestions.Holder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	holder.UserID = strings.ToLower(holder.UserID)
	holder.Transactions = slices.Clone(holder.Transactions)
	h.holders[holder.PortfolioID] = holder
}

// SymbolHolders implements SymbolHolders.
func (h *Holdings) SymbolHolders(symbol string) []suggestions.Holder {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []suggestions.Holder
	for _, holder := range h.holders {
		var txs []portfolio.Transaction
		for _, tx := range holder.Transactions {
			if tx.Symbol == symbol {
				txs = append(txs, tx)
			}
		}
		if len(txs) > 0 {
			portfolio.SortForReplay(txs)
			holder.Transactions = txs
			out = append(out, holder)
		}
	}
	slices.SortFunc(out, func(a, b suggestions.Holder) int { return cmp.Compare(a.PortfolioID, b.PortfolioID) })
	return out
}

// Suggestions is the in-memory readmodel.Suggestions.
type Suggestions struct {
	holders SymbolHolders
	mu      sync.Mutex
	rows    map[string]suggestions.Suggestion // by ID
	keys    map[suggestionKey]string          // the unique (portfolio, symbol, kind, date)
}

type suggestionKey struct{ portfolioID, symbol, kind, date string }

// NewSuggestions returns an empty store whose offers read holders.
func NewSuggestions(holders SymbolHolders) *Suggestions {
	return &Suggestions{holders: holders, rows: map[string]suggestions.Suggestion{}, keys: map[suggestionKey]string{}}
}

var (
	_ suggestions.OfferStore    = (*Suggestions)(nil)
	_ suggestions.DecisionStore = (*Suggestions)(nil)
)

// Holders implements suggestions.OfferStore.
func (s *Suggestions) Holders(_ context.Context, symbol string) ([]suggestions.Holder, error) {
	return s.holders.SymbolHolders(symbol), nil
}

// Propose implements suggestions.OfferStore.
func (s *Suggestions) Propose(_ context.Context, list []suggestions.Suggestion) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := 0
	for _, sg := range list {
		key := suggestionKey{sg.PortfolioID, sg.Symbol, string(sg.Kind), sg.Date.String()}
		if _, dup := s.keys[key]; dup {
			continue
		}
		if _, dup := s.rows[sg.ID]; dup {
			continue
		}
		sg.UserID = strings.ToLower(sg.UserID)
		sg.Status, sg.CreatedAt, sg.DecidedAt, sg.TransactionID, sg.Version = suggestions.Pending, now(), time.Time{}, "", 0
		if sg.PayDate != nil {
			d := *sg.PayDate
			sg.PayDate = &d
		}
		s.keys[key] = sg.ID
		s.rows[sg.ID] = sg
		stored++
	}
	return stored, nil
}

// List implements suggestions.DecisionStore.
func (s *Suggestions) List(_ context.Context, userID, portfolioID string, status suggestions.Status) ([]suggestions.Suggestion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []suggestions.Suggestion
	for _, sg := range s.rows {
		if s.visible(sg, userID, portfolioID) && sg.Status == status {
			out = append(out, copySuggestion(sg))
		}
	}
	slices.SortFunc(out, func(a, b suggestions.Suggestion) int {
		return cmp.Or(cmp.Compare(b.Date, a.Date), cmp.Compare(a.Symbol, b.Symbol), cmp.Compare(a.Kind, b.Kind))
	})
	if len(out) > suggestions.MaxList {
		out = out[:suggestions.MaxList]
	}
	return out, nil
}

// visible: the row is the caller's (Postgres compares UUIDs, not their
// spelling) and of that portfolio.
func (s *Suggestions) visible(sg suggestions.Suggestion, userID, portfolioID string) bool {
	return readmodel.IsUserID(userID) && sg.UserID == strings.ToLower(userID) && sg.PortfolioID == portfolioID
}

// decide applies change to the caller's row when its status is allowed, and
// returns the row as it then stands.
func (s *Suggestions) decide(userID, portfolioID, id string, allowed []suggestions.Status, change func(*suggestions.Suggestion)) (suggestions.Suggestion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, ok := s.rows[id]
	if !ok || !s.visible(sg, userID, portfolioID) {
		return suggestions.Suggestion{}, fmt.Errorf("%w: suggestion %s", portfolio.ErrNotFound, id)
	}
	if slices.Contains(allowed, sg.Status) {
		change(&sg)
		s.rows[id] = sg
	}
	return copySuggestion(sg), nil
}

// Claim implements suggestions.DecisionStore.
func (s *Suggestions) Claim(_ context.Context, userID, portfolioID, id string) (suggestions.Suggestion, error) {
	sg, err := s.decide(userID, portfolioID, id, []suggestions.Status{suggestions.Pending, suggestions.Accepted}, func(sg *suggestions.Suggestion) {
		sg.Status = suggestions.Accepted
		if sg.DecidedAt.IsZero() {
			sg.DecidedAt = now()
		}
	})
	if err == nil && sg.Status == suggestions.Dismissed {
		return suggestions.Suggestion{}, fmt.Errorf("%w: %s", suggestions.ErrDismissed, id)
	}
	return sg, err
}

// Dismiss implements suggestions.DecisionStore.
func (s *Suggestions) Dismiss(_ context.Context, userID, portfolioID, id string) (suggestions.Suggestion, error) {
	sg, err := s.decide(userID, portfolioID, id, []suggestions.Status{suggestions.Pending}, func(sg *suggestions.Suggestion) {
		sg.Status, sg.DecidedAt = suggestions.Dismissed, now()
	})
	if err == nil && sg.Status == suggestions.Accepted {
		return suggestions.Suggestion{}, fmt.Errorf("%w: %s", suggestions.ErrAccepted, id)
	}
	return sg, err
}

// Release implements suggestions.DecisionStore.
func (s *Suggestions) Release(_ context.Context, userID, portfolioID, id string) error {
	// As the statement: an unknown suggestion has nothing to release.
	_, _ = s.decide(userID, portfolioID, id, []suggestions.Status{suggestions.Accepted}, func(sg *suggestions.Suggestion) {
		if sg.TransactionID == "" {
			sg.Status, sg.DecidedAt = suggestions.Pending, time.Time{}
		}
	})
	return nil
}

// Complete implements suggestions.DecisionStore.
func (s *Suggestions) Complete(_ context.Context, userID, portfolioID, id, transactionID string, version int64) error {
	_, err := s.decide(userID, portfolioID, id, suggestions.Statuses, func(sg *suggestions.Suggestion) {
		sg.Status, sg.TransactionID, sg.Version = suggestions.Accepted, transactionID, version
		if sg.DecidedAt.IsZero() {
			sg.DecidedAt = now()
		}
	})
	return err
}

// copySuggestion shares no memory with the store.
func copySuggestion(sg suggestions.Suggestion) suggestions.Suggestion {
	if sg.PayDate != nil {
		d := *sg.PayDate
		sg.PayDate = &d
	}
	return sg
}
