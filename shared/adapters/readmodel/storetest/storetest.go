// Package storetest holds the contract suites of the read-model stores other
// than the portfolios and transactions: alert rules (RunAlerts), analytics
// figures (RunMetrics), prices (RunPrices), valuations (RunValuations),
// symbol watchers (RunWatchers), suggested transactions (RunSuggestions), the
// symbols' backfill records (RunHistory), the ingest's watch list
// (RunWatchList) and the rates the command service looks up (RunFXRates). Each suite takes a constructor and runs the same
// cases against every implementation: the Postgres stores of package readmodel
// (on a migrated database holding nothing else during the case) and the
// in-memory ones of package memstore. A case that needs other tables (the portfolios an alert rule or a
// metrics row belongs to, the closes the analytics job loads, the transactions
// a suggestion is offered from) seeds them through
// the subject's hooks, so the suites never write SQL themselves.
package storetest

import (
	"sync"
	"testing"
	"time"
)

// Users of the suites.
const (
	UserA = "0a0a0a0a-0000-4000-8000-00000000000a"
	UserB = "0b0b0b0b-0000-4000-8000-00000000000b"
)

var t0 = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

// run runs each case in parallel on a fresh subject.
func run[S any](t *testing.T, newSubject func(t *testing.T) S, cases []testCase[S]) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newSubject(t))
		})
	}
}

type testCase[S any] struct {
	name string
	fn   func(*testing.T, S)
}

// race runs fn(i) for i in [0, n) at once, released together, and waits.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

// racers is how many writers each race starts.
const racers = 8
