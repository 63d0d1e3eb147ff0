package users_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/users"
)

// world is every store of one user, as the erasure's ports see them, with a
// journal of the steps and a failure to inject at one of them.
type world struct {
	journal    []string
	failAt     string
	tombstone  time.Time
	events     map[string]int // aggregate → items
	conns      int
	quotaItems int
	created    []string // the quotas table's portfolio set
	projected  []string
	rows       int
	authUser   bool
	// during runs once at the named step, after it: a request in flight.
	during map[string]func()
}

var errDown = errors.New("down")

func (w *world) step(name string) error {
	if w.failAt == name {
		w.failAt = ""
		return errDown
	}
	w.journal = append(w.journal, name)
	if f := w.during[name]; f != nil {
		delete(w.during, name)
		f()
	}
	return nil
}

func (w *world) BeginErasure(context.Context, string) (time.Time, error) {
	if err := w.step("tombstone"); err != nil {
		return time.Time{}, err
	}
	if w.tombstone.IsZero() {
		w.tombstone = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return w.tombstone, nil
}
func (w *world) PortfolioIDs(context.Context, string) ([]string, error) { return w.projected, nil }
func (w *world) EraseReadModels(_ context.Context, _ string, ids []string) ([]users.Count, error) {
	if err := w.step("read models"); err != nil {
		return nil, err
	}
	n := w.rows
	w.rows, w.projected = 0, nil
	return []users.Count{{Store: "postgres.transactions", Items: int64(n)}}, nil
}
func (w *world) EraseAggregate(_ context.Context, id string) (int64, error) {
	if err := w.step("events " + id); err != nil {
		return 0, err
	}
	n := w.events[id]
	delete(w.events, id)
	return int64(n), nil
}
func (w *world) EraseUserConnections(context.Context, string) (int64, error) {
	if err := w.step("connections"); err != nil {
		return 0, err
	}
	n := w.conns
	w.conns = 0
	return int64(n), nil
}
func (w *world) PortfoliosCreated(context.Context, string) ([]string, error) { return w.created, nil }
func (w *world) EraseUserQuotas(context.Context, string) (int64, error) {
	if err := w.step("quotas"); err != nil {
		return 0, err
	}
	n := w.quotaItems
	w.quotaItems, w.created = 0, nil
	return int64(n), nil
}
func (w *world) AuthUser(context.Context, string) (users.AuthUser, error) {
	return users.AuthUser{}, users.ErrAuthUserNotFound
}
func (w *world) DeleteAuthUser(context.Context, string) error {
	if err := w.step("auth"); err != nil {
		return err
	}
	if !w.authUser {
		return users.ErrAuthUserNotFound
	}
	w.authUser = false
	return nil
}

func newWorld() *world {
	// p2 is not projected yet: only the quotas table knows it.
	return &world{events: map[string]int{"p1": 5, "p2": 3}, conns: 2, quotaItems: 2, created: []string{"p1", "p2"},
		projected: []string{"p1"}, rows: 7, authUser: true}
}

func (w *world) service() *users.Service {
	return users.New(users.Config{ReadModels: w, Events: w, Connections: w, Quotas: w, Auth: w})
}

func (w *world) empty() bool {
	return len(w.events) == 0 && w.conns == 0 && w.quotaItems == 0 && w.rows == 0 && !w.authUser
}

// The steps in their order: the tombstone first, the events before the quota
// set that finds them, the Supabase Auth user last; every portfolio the quotas
// table knows is erased, projected or not.
func TestEraseOrder(t *testing.T) {
	w := newWorld()
	r, err := w.service().Erase(context.Background(), "u")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tombstone", "events p1", "events p2", "connections", "read models", "events p1", "events p2", "quotas", "auth"}
	if !slices.Equal(w.journal, want) || !w.empty() {
		t.Fatalf("steps %v, want %v; left %+v", w.journal, want, w)
	}
	if r.Total() != 5+3+2+7+2+1 || !r.ErasedAt.Equal(w.tombstone) {
		t.Fatalf("report %+v", r)
	}
}

// A command in flight when the erasure began, past the tombstone's check, that
// appends to a portfolio after its events were erased, or reserves a new
// portfolio after the portfolios were listed: the second pass over the events,
// before the quota set is erased, finds both.
func TestEraseCatchesACommandInFlight(t *testing.T) {
	w := newWorld()
	w.during = map[string]func(){"connections": func() {
		w.events["p1"]++
		w.created = append(w.created, "p3")
		w.events["p3"] = 1
	}}
	r, err := w.service().Erase(context.Background(), "u")
	if err != nil || !w.empty() {
		t.Fatalf("%v, left %+v", err, w)
	}
	var events int64
	for _, c := range r.Counts {
		if c.Store == "dynamodb.events" {
			events += c.Items
		}
	}
	if events != 5+3+1+1 || slices.IndexFunc(r.Counts[1:], func(c users.Count) bool { return c.Store == r.Counts[0].Store }) >= 0 {
		t.Fatalf("report %+v: want one count per store, %d events", r.Counts, 5+3+1+1)
	}
}

// A failure at any step leaves the rest for the retry, which finishes the job
// (and reports only what it erased itself).
func TestEraseResumesAfterAFailureAtAnyStep(t *testing.T) {
	for _, at := range []string{"tombstone", "events p1", "events p2", "connections", "read models", "quotas", "auth"} {
		w := newWorld()
		w.failAt = at
		first, err := w.service().Erase(context.Background(), "u")
		if !errors.Is(err, errDown) {
			t.Fatalf("failure at %s: %v", at, err)
		}
		if at != "auth" && !w.authUser {
			t.Fatalf("failure at %s: the Auth user was deleted before the data", at)
		}
		second, err := w.service().Erase(context.Background(), "u")
		if err != nil || !w.empty() {
			t.Fatalf("retry after %s: %v, left %+v", at, err, w)
		}
		if first.Total() != 0 || second.Total() > 20 {
			t.Fatalf("after %s: reports %d and %d", at, first.Total(), second.Total())
		}
	}
}

// Without every store wired, DELETE /me erases nothing.
func TestEraseNeedsEveryStore(t *testing.T) {
	w := newWorld()
	s := users.New(users.Config{ReadModels: w, Events: w, Connections: w, Quotas: w})
	if _, err := s.Erase(context.Background(), "u"); !errors.Is(err, users.ErrUnavailable) || len(w.journal) > 0 {
		t.Fatalf("%v, journal %v", err, w.journal)
	}
}
