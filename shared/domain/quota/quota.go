// Package quota declares every quota the system enforces per user, portfolio
// or connection: its name, limit, scope and how a refusal is answered. The
// enforcing code reads its limit from here, the API maps *ExceededError to the
// declared status, and docs/architecture.md ("Quotas") holds the table that
// Markdown renders (a test keeps the two in step).
//
// Two kinds of refusal, one status each: a quota on what is in use right now
// (open connections) answers 429, since it frees up on its own when a connection
// closes and a later retry can succeed; a quota on what is stored (rules,
// portfolios, transactions, symbols) answers 422, since only a change of the
// account's data makes room, and retrying the same request never will. The
// per-connection subscription caps are answered in band, as a WebSocket error
// reply, because the connection stays open.
//
// The package imports nothing but the standard library: the domain
// (shared/domain/portfolio) enforces the transactions quota itself.
package quota

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scope is what a quota counts per.
type Scope string

const (
	PerUser       Scope = "user"
	PerPortfolio  Scope = "portfolio"
	PerConnection Scope = "connection"
)

// Statuses of a refusal (net/http's values, spelled out so that the domain
// imports no HTTP package).
const (
	StatusInUse  = 429 // Too Many Requests: frees up on its own
	StatusStored = 422 // Unprocessable Content: the account's data must change first
	StatusInBand = 0   // a WebSocket error reply {"type":"error","code":"limit_exceeded"}
)

// Quota is one declared limit.
type Quota struct {
	// Name is stable and machine-readable: the API's error details carry it.
	Name  string
	Limit int
	Scope Scope
	// Counts says what is counted, for humans (the docs' table).
	Counts string
	// Status answers a refusal: StatusInUse, StatusStored or StatusInBand.
	Status int
	// Enforced says where and how exactly (the docs' table).
	Enforced string
}

// The quotas. Limits are for a demanding real user; docs/architecture.md
// ("Quotas") says why each is what it is.
var (
	ConnectionsPerUser = Quota{
		Name: "connections_per_user", Limit: 10, Scope: PerUser, Status: StatusInUse,
		Counts:   "open WebSocket connections",
		Enforced: "`$connect` (wsconn.Store.Put): a per-user item of connection IDs, written in one transaction with the connection; exact",
	}
	SubscribedPortfoliosPerConnection = Quota{
		Name: "subscribed_portfolios_per_connection", Limit: 50, Scope: PerConnection, Status: StatusInBand,
		Counts:   "portfolios one connection subscribed to",
		Enforced: "`subscribe` (wsconn.Store.Subscribe): conditional on the set's size; exact",
	}
	SubscribedSymbolsPerConnection = Quota{
		Name: "subscribed_symbols_per_connection", Limit: 200, Scope: PerConnection, Status: StatusInBand,
		Counts:   "symbols one connection subscribed to",
		Enforced: "`subscribe` (wsconn.Store.Subscribe): conditional on the set's size; exact",
	}
	AlertRulesPerUser = Quota{
		Name: "alert_rules_per_user", Limit: 200, Scope: PerUser, Status: StatusStored,
		Counts:   "alert rules",
		Enforced: "`POST /alerts` (readmodel.AlertRules.Create): count and insert under a per-user lock; exact",
	}
	PortfoliosPerUser = Quota{
		Name: "portfolios_per_user", Limit: 50, Scope: PerUser, Status: StatusStored,
		Counts:   "portfolios created, archived ones included",
		Enforced: "`POST /portfolios` (command service): a conditional per-user set in the quotas table before the append; never over",
	}
	TransactionsPerPortfolio = Quota{
		Name: "transactions_per_portfolio", Limit: 50_000, Scope: PerPortfolio, Status: StatusStored,
		Counts:   "transactions recorded, imported and voided ones included",
		Enforced: "the aggregate (portfolio.RecordTransactions, ImportTransactions), on its own count; exact",
	}
	SymbolsPerUser = Quota{
		Name: "symbols_per_user", Limit: 2_000, Scope: PerUser, Status: StatusStored,
		Counts:   "distinct symbols in the user's transactions and alert rules, ever",
		Enforced: "transactions, imports and `POST /alerts`: a conditional per-user set in the quotas table before the write; never over",
	}
)

// All lists every quota, in the docs' order.
func All() []Quota {
	return []Quota{
		ConnectionsPerUser, SubscribedPortfoliosPerConnection, SubscribedSymbolsPerConnection,
		AlertRulesPerUser, PortfoliosPerUser, TransactionsPerPortfolio, SymbolsPerUser,
	}
}

// ErrExceeded matches every *ExceededError (errors.Is).
var ErrExceeded = errors.New("quota exceeded")

// ExceededError refuses a request that would take a count past its quota.
type ExceededError struct {
	Quota Quota
	// Would is the count had the request been accepted, when the enforcer knows
	// it (0 otherwise).
	Would int
}

// Exceeded returns the refusal of q.
func Exceeded(q Quota, would int) *ExceededError { return &ExceededError{Quota: q, Would: would} }

func (e *ExceededError) Error() string {
	msg := fmt.Sprintf("quota %s: at most %s %s per %s", e.Quota.Name, formatInt(e.Quota.Limit), e.Quota.Counts, e.Quota.Scope)
	if e.Would > 0 {
		msg += fmt.Sprintf(" (this would make %s)", formatInt(e.Would))
	}
	return msg
}

// Is makes errors.Is(err, ErrExceeded) hold.
func (e *ExceededError) Is(target error) bool { return target == ErrExceeded }

// Details are the API error's details: the quota's name, limit and scope.
func (e *ExceededError) Details() map[string]any {
	return map[string]any{"quota": e.Quota.Name, "limit": e.Quota.Limit, "scope": string(e.Quota.Scope)}
}

// Markdown renders the quotas as the table in docs/architecture.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| quota | limit | per | counts | refusal | enforced |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, q := range All() {
		refusal := "WebSocket error `limit_exceeded`"
		if q.Status != StatusInBand {
			refusal = strconv.Itoa(q.Status)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", q.Name, formatInt(q.Limit), q.Scope, q.Counts, refusal, q.Enforced)
	}
	return b.String()
}

// formatInt writes n with thousands separators (50,000).
func formatInt(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
