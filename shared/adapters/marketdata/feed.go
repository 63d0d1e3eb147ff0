package marketdata

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// QuoteProvider answers "what is the price of symbol now" (REST quotes, the
// simulator). Errors are *MarketDataError.
type QuoteProvider interface {
	Name() string
	Quote(ctx context.Context, symbol string) (Quote, error)
}

// BarProvider returns the daily bars of symbol for the days from..to inclusive,
// oldest first; days without trading have no bar, and a range without any is an
// empty slice, not an error. Errors are *MarketDataError.
type BarProvider interface {
	Name() string
	DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]DailyBar, error)
}

// Feed pushes quotes as they happen (the Finnhub WebSocket, the simulator, a
// replay). Run calls emit for each quote, in order, from one goroutine, until ctx
// ends (it then returns ctx.Err()), the source is exhausted (nil), or emit returns an
// error (which Run returns).
type Feed interface {
	Run(ctx context.Context, emit func(Quote) error) error
}

// Stream runs f in a goroutine and delivers its quotes on a channel with the given
// buffer. The quotes channel closes when Run returns; its result is then sent on the
// error channel (buffered, one value). Cancel ctx to stop early.
func Stream(ctx context.Context, f Feed, buffer int) (<-chan Quote, <-chan error) {
	quotes := make(chan Quote, buffer)
	errc := make(chan error, 1)
	go func() {
		defer close(quotes)
		errc <- f.Run(ctx, func(q Quote) error {
			select {
			case quotes <- q:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return quotes, errc
}

// SymbolSearcher answers a free-text symbol search ("apple", "VT") with at most
// MaxSearchResults matches, best first. The query is checked by CheckQuery first
// (1 to 50 printable characters). Errors are *MarketDataError.
type SymbolSearcher interface {
	Name() string
	Search(ctx context.Context, query string) ([]market.SymbolMatch, error)
}

// CorporateActionProvider returns the splits and cash dividends of symbol that
// take effect from..to inclusive (split execution dates, dividend ex-dates),
// oldest first; none is an empty slice. Errors are *MarketDataError.
type CorporateActionProvider interface {
	Name() string
	CorporateActions(ctx context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error)
}
