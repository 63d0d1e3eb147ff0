package quota

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestQuotasAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, q := range All() {
		if q.Name == "" || q.Limit <= 0 || q.Counts == "" || q.Enforced == "" || seen[q.Name] {
			t.Errorf("quota %+v: a unique name, a positive limit, what it counts and where it is enforced are required", q)
		}
		seen[q.Name] = true
		switch q.Scope {
		case PerUser, PerPortfolio, PerConnection:
		default:
			t.Errorf("quota %s: scope %q", q.Name, q.Scope)
		}
		switch {
		case q.Status == StatusInBand && q.Scope == PerConnection:
		case q.Status == StatusInUse || q.Status == StatusStored:
		default:
			t.Errorf("quota %s: status %d (429 for what is in use, 422 for what is stored, in band per connection)", q.Name, q.Status)
		}
	}
}

func TestExceededError(t *testing.T) {
	err := fmt.Errorf("record: %w", Exceeded(TransactionsPerPortfolio, 50_001))
	var qe *ExceededError
	if !errors.Is(err, ErrExceeded) || !errors.As(err, &qe) || qe.Quota.Name != "transactions_per_portfolio" {
		t.Fatalf("%v does not match ErrExceeded and *ExceededError", err)
	}
	want := "quota transactions_per_portfolio: at most 50,000 transactions recorded, imported and voided ones included per portfolio (this would make 50,001)"
	if got := qe.Error(); got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if d := qe.Details(); d["quota"] != "transactions_per_portfolio" || d["limit"] != 50_000 || d["scope"] != "portfolio" {
		t.Errorf("details %v", d)
	}
}

// TestDocsTable keeps the table in docs/architecture.md ("Quotas") the one that
// Markdown renders. On a mismatch it prints the table to paste.
func TestDocsTable(t *testing.T) {
	const path = "../../../docs/architecture.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	table := Markdown()
	if !strings.Contains(doc, table) {
		t.Fatalf("%s does not hold the quotas' table as declared in shared/domain/quota; replace it with:\n\n%s", path, table)
	}
	if strings.Count(doc, "| quota | limit |") != 1 {
		t.Fatalf("%s holds the quotas' table more than once", path)
	}
}
