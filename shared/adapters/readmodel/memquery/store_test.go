package memquery_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi/querytest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
)

func TestContract(t *testing.T) {
	querytest.Run(t, func(t *testing.T) querytest.Fixture {
		s := memquery.New()
		return querytest.Fixture{Portfolios: s, Transactions: s, Apply: s.Apply, SetLatestPrices: s.SetLatestPrices}
	})
}
