// Package memstore holds in-memory implementations of the read-model stores
// (alert rules, analytics figures, prices, valuations, symbol watchers,
// suggested transactions, the symbols' backfill records) for
// tests of the use cases and the API that do not exercise SQL. Each passes the
// same contract suite as its PostgreSQL counterpart in package readmodel
// (readmodel/storetest), races included: every method holds the store's lock for
// its whole effect, as the PostgreSQL statement is atomic. Values come back as
// PostgreSQL returns them: instants in UTC at microsecond precision, JSON columns
// decoded afresh, so a caller never shares memory with the store.
package memstore

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// PortfolioDirectory is the portfolios table as the alert and metrics stores
// join on it. Directory implements it; so may an in-memory portfolio store.
type PortfolioDirectory interface {
	// PortfolioOwner returns the portfolio's owner, "" when unknown.
	PortfolioOwner(portfolioID string) string
	// ActivePortfolios returns the portfolios not archived, by ID.
	ActivePortfolios() []readmodel.PortfolioRef
}

// Directory stands for the portfolios table: each portfolio's owner, aggregate
// version and whether it is archived. Tests fill it as the projection would.
type Directory struct {
	mu         sync.RWMutex
	portfolios map[string]portfolioEntry
}

type portfolioEntry struct {
	userID   string
	version  int64
	archived bool
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory { return &Directory{portfolios: map[string]portfolioEntry{}} }

// Put records (or replaces) portfolio ref.ID of ref.UserID at ref.Version.
func (d *Directory) Put(ref readmodel.PortfolioRef, archived bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.portfolios[ref.ID] = portfolioEntry{userID: ref.UserID, version: ref.Version, archived: archived}
}

// Own records portfolioIDs as userID's, at version 1 and not archived.
func (d *Directory) Own(userID string, portfolioIDs ...string) {
	for _, id := range portfolioIDs {
		d.Put(readmodel.PortfolioRef{ID: id, UserID: userID, Version: 1}, false)
	}
}

// PortfolioOwner implements PortfolioDirectory.
func (d *Directory) PortfolioOwner(portfolioID string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.portfolios[portfolioID].userID
}

// ActivePortfolios implements PortfolioDirectory.
func (d *Directory) ActivePortfolios() []readmodel.PortfolioRef {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []readmodel.PortfolioRef
	for id, p := range d.portfolios {
		if !p.archived {
			out = append(out, readmodel.PortfolioRef{ID: id, UserID: p.userID, Version: p.version})
		}
	}
	slices.SortFunc(out, func(a, b readmodel.PortfolioRef) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// stamp is t as PostgreSQL's timestamptz keeps it: UTC, whole microseconds.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// now is the time a statement would take from now().
func now() time.Time { return stamp(time.Now()) }
