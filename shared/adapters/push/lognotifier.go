package push

import (
	"context"
	"log/slog"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// LogNotifier writes each message as a JSON log line instead of pushing it: the
// prices function's Notifier when no WebSocket endpoint is configured (a local
// run). It delivers to an output, as the Pusher does, so it lives beside it.
type LogNotifier struct{ Logger *slog.Logger }

var _ pricing.Notifier = LogNotifier{}

// Notify implements pricing.Notifier.
func (n LogNotifier) Notify(ctx context.Context, userIDs []string, message any) error {
	n.Logger.InfoContext(ctx, "notify", "userIds", userIDs, "message", message)
	return nil
}
