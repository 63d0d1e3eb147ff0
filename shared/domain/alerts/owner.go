package alerts

import (
	"fmt"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/symbol"
)

// Rule IDs are scoped per user. A user names a rule (or gets a generated ID);
// the system keeps it as ScopedID(user, name), so two users' "r1" never meet in
// one engine, one state table or one history key, and no user can claim or
// probe another's IDs. Everything the owner sees carries their own names back
// (OwnID, Firing.ForOwner).

// MaxOwnIDLen bounds the ID a user chooses; MaxIDLen leaves room for the scope.
const MaxOwnIDLen = 128

// ScopedID is the rule ID the system keeps for userID's rule ownID.
func ScopedID(userID, ownID string) string { return userID + ":" + ownID }

// OwnID is a scoped rule ID (or firing key) as its owner userID wrote it.
func OwnID(userID, scoped string) string { return strings.TrimPrefix(scoped, userID+":") }

// CheckOwnID accepts 1 to MaxOwnIDLen of ASCII letters, digits, '.', '_' and
// '-': IDs travel in URL paths and inside firing keys ("<rule ID>#<epoch>").
func CheckOwnID(id string) error {
	if id == "" || len(id) > MaxOwnIDLen || strings.IndexFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}) >= 0 {
		return &ValidationError{RuleID: id, Field: "id", Err: ErrMissingID, Detail: fmt.Sprintf("1 to %d of letters, digits, '.', '_' and '-'", MaxOwnIDLen)}
	}
	return nil
}

// CheckNew holds a rule a user creates to what Validate leaves to creation
// (stored rules keep loading): the user's own ID (CheckOwnID) and a symbol by
// the symbol rule.
func (r Rule) CheckNew() error {
	if err := CheckOwnID(r.ID); err != nil {
		return err
	}
	return r.CheckSymbols()
}

// CheckSymbols holds the symbols of a rule a user creates or edits to the
// symbol rule.
func (r Rule) CheckSymbols() error {
	for i, c := range r.Legs() {
		if c.Symbol == "" {
			continue
		}
		if err := symbol.Check(c.Symbol); err != nil {
			field := "symbol"
			if r.IsComposite() {
				field = fmt.Sprintf("conditions[%d].symbol", i)
			}
			return &ValidationError{RuleID: r.ID, Field: field, Err: ErrMissingSymbol, Detail: err.Error()}
		}
	}
	return nil
}

// ForOwner is the firing as its owner sees it: their own rule ID and key.
func (f Firing) ForOwner() Firing {
	f.RuleID, f.Key = OwnID(f.UserID, f.RuleID), OwnID(f.UserID, f.Key)
	return f
}

// OwnRules keeps the rules on no portfolio and those whose portfolio belongs to
// their own user (ownerOf gives a portfolio's owner, "" when unknown): a rule
// never joins one user's portfolio to another's alerts, whatever the rule store
// holds.
func OwnRules(rules []Rule, ownerOf func(portfolioID string) string) []Rule {
	out := rules[:0:0]
	for _, r := range rules {
		if r.PortfolioID == "" || (r.UserID != "" && ownerOf(r.PortfolioID) == r.UserID) {
			out = append(out, r)
		}
	}
	return out
}
