package marketdata

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// fxQuote quotes a currency pair with CURRENCY_EXCHANGE_RATE:
// {"Realtime Currency Exchange Rate": {"1. From_Currency Code", ..., "5. Exchange Rate",
// "6. Last Refreshed": "2024-03-05 15:00:01", "7. Time Zone": "UTC", ...}}.
func (a *AlphaVantage) fxQuote(ctx context.Context, symbol string, pair market.FXPair) (Quote, error) {
	body, mdErr := a.call(ctx, symbol, url.Values{"function": {"CURRENCY_EXCHANGE_RATE"},
		"from_currency": {pair.Base}, "to_currency": {pair.Quote}})
	if mdErr != nil {
		return Quote{}, mdErr
	}
	q, mdErr := parseAlphaVantageRate(body, symbol, pair, a.c.opts.Now())
	if mdErr != nil {
		return Quote{}, a.fail(mdErr, symbol)
	}
	return q, nil
}

func parseAlphaVantageRate(body []byte, symbol string, pair market.FXPair, now time.Time) (Quote, *MarketDataError) {
	top, e := alphaVantageEnvelope(body, now)
	if e != nil {
		return Quote{}, e
	}
	raw, ok := top["Realtime Currency Exchange Rate"]
	if !ok {
		return Quote{}, malformed("no \"Realtime Currency Exchange Rate\" in the answer")
	}
	var r map[string]string
	if err := json.Unmarshal(raw, &r); err != nil {
		return Quote{}, malformed("\"Realtime Currency Exchange Rate\" is not an object of strings")
	}
	if len(r) == 0 {
		return Quote{}, &MarketDataError{Kind: KindNotFound, Message: "empty exchange rate: unknown currency"}
	}
	if from, to := r["1. From_Currency Code"], r["3. To_Currency Code"]; (from != "" && from != pair.Base) || (to != "" && to != pair.Quote) {
		return Quote{}, malformed("answer is for " + truncate(from+"/"+to) + ", not " + pair.Base + "/" + pair.Quote)
	}
	rate, e := avField(r, "5. Exchange Rate")
	if e != nil {
		return Quote{}, e
	}
	if !rate.IsPositive() {
		return Quote{}, malformed("exchange rate " + rate.String() + " is not positive")
	}
	loc := time.UTC
	if tz := r["7. Time Zone"]; tz != "" && tz != "UTC" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	at, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(r["6. Last Refreshed"]), loc)
	if err != nil || at.Unix() <= 0 || at.Unix() > maxUnixSeconds {
		return Quote{}, malformed("\"6. Last Refreshed\" is not a date and time")
	}
	return Quote{Symbol: symbol, Price: rate, Volume: decimal.Zero, Timestamp: at.UTC(), Source: SourceAlphaVantage}, nil
}

// fxDaily reads a currency pair's daily bars with FX_DAILY ("Time Series FX
// (Daily)", without volumes).
func (a *AlphaVantage) fxDaily(ctx context.Context, symbol string, pair market.FXPair, from, to calendar.Date, size string) ([]DailyBar, error) {
	body, mdErr := a.call(ctx, symbol, url.Values{"function": {"FX_DAILY"}, "from_symbol": {pair.Base},
		"to_symbol": {pair.Quote}, "outputsize": {size}})
	if mdErr != nil {
		return nil, mdErr
	}
	bars, mdErr := parseAlphaVantageSeries(body, "Time Series FX (Daily)", symbol, from, to, a.c.opts.Now())
	if mdErr != nil {
		return nil, a.fail(mdErr, symbol)
	}
	return bars, nil
}

// Search implements SymbolSearcher with SYMBOL_SEARCH: {"bestMatches": [{"1.
// symbol", "2. name", "3. type", "4. region", ..., "8. currency", "9.
// matchScore"}]}, best first (an unknown name: an empty list).
func (a *AlphaVantage) Search(ctx context.Context, query string) ([]market.SymbolMatch, error) {
	if e := CheckQuery(SourceAlphaVantage, query); e != nil {
		e.At = a.c.opts.Now().UTC()
		return nil, e
	}
	body, mdErr := a.call(ctx, "", url.Values{"function": {"SYMBOL_SEARCH"}, "keywords": {query}})
	if mdErr != nil {
		return nil, mdErr
	}
	top, e := alphaVantageEnvelope(body, a.c.opts.Now())
	if e != nil {
		return nil, a.fail(e, "")
	}
	raw, ok := top["bestMatches"]
	if !ok {
		return nil, a.fail(malformed("no \"bestMatches\" in the answer"), "")
	}
	var matches []map[string]string
	if err := json.Unmarshal(raw, &matches); err != nil {
		return nil, a.fail(malformed("\"bestMatches\" is not a list of objects of strings"), "")
	}
	out := make([]market.SymbolMatch, 0, len(matches))
	for _, m := range matches {
		out = append(out, market.SymbolMatch{Symbol: m["1. symbol"], Description: m["2. name"], Type: m["3. type"],
			Currency: strings.ToUpper(m["8. currency"]), Source: SourceAlphaVantage})
	}
	return boundMatches(out), nil
}

// CorporateActions implements CorporateActionProvider: Alpha Vantage's free API
// reports no splits or dividends in a form we use (TIME_SERIES_DAILY_ADJUSTED,
// which carries them, is premium), so there are none, and no call is made. A
// deployment that wants suggested splits and dividends chooses Polygon as its
// history source.
func (a *AlphaVantage) CorporateActions(context.Context, string, calendar.Date, calendar.Date) ([]market.CorporateAction, error) {
	return []market.CorporateAction{}, nil
}
