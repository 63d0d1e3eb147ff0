package main

import (
	"context"
	"strings"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// finnhubSymbol is what Finnhub streams for one of our symbols: a currency
// pair "EURUSD=X" is OANDA's "OANDA:EUR_USD", anything else is itself.
// (marketdata.ProviderSymbol, once it exists, takes this over.)
func finnhubSymbol(symbol string) string {
	if p, ok := market.ParseFXPair(symbol); ok {
		return "OANDA:" + p.Base + "_" + p.Quote
	}
	return symbol
}

// ourSymbol undoes finnhubSymbol.
func ourSymbol(symbol string) string {
	if pair, ok := strings.CutPrefix(symbol, "OANDA:"); ok {
		if base, quote, ok := strings.Cut(pair, "_"); ok && len(base) == 3 {
			if p, ok := market.ParseFXPair(base + quote + "=X"); ok {
				return p.Symbol()
			}
		}
	}
	return symbol
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
