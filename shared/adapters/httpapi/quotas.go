package httpapi

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// Quotas counts what a write adds against the caller's quotas
// (dynamoquota.Store; the command service holds the same store for commands).
type Quotas interface {
	Reserve(ctx context.Context, q quota.Quota, userID string, members []string) error
}

// reserveRuleSymbols counts the symbols of rule, as the store will keep it,
// against the user's symbols quota before the store writes it: ingest fetches
// every alert rule's symbol, as every held one. Callers check the rule first
// (checkNewRule, patchedRule), so that an invalid rule is refused for what it
// is and reserves nothing, and a valid one is never let through unreserved.
func (s *Server) reserveRuleSymbols(ctx context.Context, userID string, rule alerts.Rule) error {
	symbols := rule.Symbols()
	if s.quotas == nil || len(symbols) == 0 {
		return nil
	}
	return s.quotas.Reserve(ctx, quota.SymbolsPerUser, userID, symbols)
}
