package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Report is what an erasure deleted, per store. A retry of an erasure that
// finished reports zeros (and auth.users 0).
type Report struct {
	UserID   string
	ErasedAt time.Time // when the erasure first began
	Counts   []Count
}

// Erase deletes everything the system holds of the user, in this order, each
// step idempotent so that a retry after a crash half-way (or a timeout)
// finishes the job:
//
//  1. the tombstone (erased_users): from here the projector projects none of
//     the user's events still in the stream, GET /me makes no new profile, and
//     the command service appends no event of the user (command.Accounts);
//  2. the user's portfolios: those the quotas table says the user ever created
//     (projected or not) and those of the read model;
//  3. every item of those aggregates in the events table (events, the
//     snapshots and idempotency fingerprints riding on them);
//  4. the user's WebSocket connections;
//  5. the read models, under the portfolios' projection locks (what the
//     projector had in flight commits first and is deleted here);
//  6. the late events: the portfolios listed again and their events erased
//     again, for a command that passed the tombstone's check before step 1 and
//     appended (or reserved a new portfolio) after step 2 or 3 read;
//  7. the user's quota counters: after the events, since their portfolio set is
//     how a retry finds the events;
//  8. the Supabase Auth user, last: until then the caller's session can retry.
func (s *Service) Erase(ctx context.Context, userID string) (Report, error) {
	if s.cfg.ReadModels == nil || s.cfg.Events == nil || s.cfg.Connections == nil || s.cfg.Quotas == nil || s.cfg.Auth == nil {
		return Report{}, ErrUnavailable
	}
	began, err := s.cfg.ReadModels.BeginErasure(ctx, userID)
	if err != nil {
		return Report{}, fmt.Errorf("erase %s: tombstone: %w", userID, err)
	}
	r := Report{UserID: userID, ErasedAt: began}
	portfolios, err := s.portfoliosOf(ctx, userID)
	if err != nil {
		return Report{}, err
	}
	steps := []func(context.Context, string, []string) ([]Count, error){
		s.eraseEvents, s.eraseConnections, s.eraseReadModels, s.eraseLateEvents, s.eraseQuotas, s.eraseAuthUser,
	}
	for _, step := range steps {
		counts, err := step(ctx, userID, portfolios)
		if err != nil {
			return Report{}, fmt.Errorf("erase %s: %w", userID, err)
		}
		r.add(counts)
	}
	s.log.InfoContext(ctx, "users: erased", "userId", userID, "portfolios", len(portfolios), "items", r.Total())
	return r, nil
}

// add adds counts to the report, one Count per store.
func (r *Report) add(counts []Count) {
	for _, c := range counts {
		if i := slices.IndexFunc(r.Counts, func(x Count) bool { return x.Store == c.Store }); i >= 0 {
			r.Counts[i].Items += c.Items
			continue
		}
		r.Counts = append(r.Counts, c)
	}
}

// Total is the number of items erased.
func (r Report) Total() int64 {
	var n int64
	for _, c := range r.Counts {
		n += c.Items
	}
	return n
}

// portfoliosOf is the union of the quotas table's and the read model's
// portfolios of the user, sorted.
func (s *Service) portfoliosOf(ctx context.Context, userID string) ([]string, error) {
	created, err := s.cfg.Quotas.PortfoliosCreated(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("erase %s: portfolios created: %w", userID, err)
	}
	projected, err := s.cfg.ReadModels.PortfolioIDs(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("erase %s: portfolios projected: %w", userID, err)
	}
	all := append(slices.Clone(created), projected...)
	slices.Sort(all)
	return slices.Compact(all), nil
}

func (s *Service) eraseEvents(ctx context.Context, _ string, portfolios []string) ([]Count, error) {
	var n int64
	for _, id := range portfolios {
		k, err := s.cfg.Events.EraseAggregate(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("events of %s: %w", id, err)
		}
		n += k
	}
	return []Count{{Store: "dynamodb.events", Items: n}}, nil
}

// eraseLateEvents lists the portfolios again and erases their events again:
// what a command in flight appended, or created, after the first pass read.
func (s *Service) eraseLateEvents(ctx context.Context, userID string, _ []string) ([]Count, error) {
	portfolios, err := s.portfoliosOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	return s.eraseEvents(ctx, userID, portfolios)
}

func (s *Service) eraseConnections(ctx context.Context, userID string, _ []string) ([]Count, error) {
	n, err := s.cfg.Connections.EraseUserConnections(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	return []Count{{Store: "dynamodb.connections", Items: n}}, nil
}

func (s *Service) eraseReadModels(ctx context.Context, userID string, portfolios []string) ([]Count, error) {
	counts, err := s.cfg.ReadModels.EraseReadModels(ctx, userID, portfolios)
	if err != nil {
		return nil, fmt.Errorf("read models: %w", err)
	}
	return counts, nil
}

func (s *Service) eraseQuotas(ctx context.Context, userID string, _ []string) ([]Count, error) {
	n, err := s.cfg.Quotas.EraseUserQuotas(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("quotas: %w", err)
	}
	return []Count{{Store: "dynamodb.quotas", Items: n}}, nil
}

func (s *Service) eraseAuthUser(ctx context.Context, userID string, _ []string) ([]Count, error) {
	err := s.cfg.Auth.DeleteAuthUser(ctx, userID)
	switch {
	case errors.Is(err, ErrAuthUserNotFound):
		return []Count{{Store: "auth.users", Items: 0}}, nil
	case err != nil:
		return nil, fmt.Errorf("the Supabase Auth user: %w", err)
	}
	return []Count{{Store: "auth.users", Items: 1}}, nil
}
