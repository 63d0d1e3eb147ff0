package push

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// NotifySubscribed implements pricing.SubscriptionNotifier: NotifyEach, with each
// connection shown to pick as the subscriptions the prices consumer reads.
func (p *Pusher) NotifySubscribed(ctx context.Context, userIDs []string, pick func(pricing.Subscriptions) []any) error {
	return p.NotifyEach(ctx, userIDs, func(c wsconn.Connection) []any {
		return pick(pricing.Subscriptions{UserID: c.UserID, Portfolios: c.Portfolios, Symbols: c.Symbols})
	})
}

var _ pricing.SubscriptionNotifier = (*Pusher)(nil)
