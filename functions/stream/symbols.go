package main

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// finnhubSymbol is what Finnhub streams for one of our symbols (a currency
// pair "EURUSD=X" is OANDA's "OANDA:EUR_USD"), ourSymbol the way back.
func finnhubSymbol(symbol string) string {
	return marketdata.ProviderSymbol(marketdata.SourceFinnhub, symbol)
}

func ourSymbol(symbol string) string {
	return marketdata.FromProviderSymbol(marketdata.SourceFinnhub, symbol)
}

// finnhubTrades is Finnhub's trade stream in our symbols
// (streaming.TradeStream).
type finnhubTrades struct{ s *marketdata.FinnhubStream }

func (f finnhubTrades) Subscribe(ctx context.Context, symbols ...string) error {
	return f.s.Subscribe(ctx, mapSymbols(symbols, finnhubSymbol)...)
}

func (f finnhubTrades) Unsubscribe(ctx context.Context, symbols ...string) error {
	return f.s.Unsubscribe(ctx, mapSymbols(symbols, finnhubSymbol)...)
}

func (f finnhubTrades) Run(ctx context.Context, emit func(market.Quote) error) error {
	return f.s.Run(ctx, func(q market.Quote) error {
		q.Symbol = ourSymbol(q.Symbol)
		return emit(q)
	})
}

func mapSymbols(symbols []string, f func(string) string) []string {
	out := make([]string, len(symbols))
	for i, s := range symbols {
		out[i] = f(s)
	}
	return out
}
