package marketdata

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// DefaultAlphaVantageBaseURL is Alpha Vantage's query endpoint.
const DefaultAlphaVantageBaseURL = "https://www.alphavantage.co/query"

// AlphaVantage is the client for GLOBAL_QUOTE and TIME_SERIES_DAILY. Alpha Vantage
// takes the key only as the apikey query parameter, so request URLs are never put in
// errors.
//
// Alpha Vantage answers almost everything with HTTP 200:
//   - {"Information": "..."} or {"Note": "..."}: the quota is spent (25 requests a
//     day on the free tier; "Note" is the per-minute throttle). KindRateLimited, never
//     data. RetryAfter runs to the next UTC midnight when an "Information" speaks of
//     a day, else one minute. The exception is an "Information" saying "This is a
//     premium endpoint": the plan lacks the function, reported as KindHTTPStatus 403
//     (what it means), since retrying never helps.
//   - {"Error Message": "Invalid API call. ..."}: what it answers for a symbol it
//     does not know (our function names are fixed), so KindNotFound; any other
//     "Error Message" is KindUpstream.
//   - {"Global Quote": {}}: GLOBAL_QUOTE for an unknown symbol, KindNotFound.
//
// Numbers arrive as strings ("05. price": "189.9800") and are parsed exactly.
type AlphaVantage struct {
	c restClient
	// OutputSize forces TIME_SERIES_DAILY's outputsize ("compact": the latest 100
	// sessions, or "full"). Empty chooses: compact when from is within the last
	// 100 sessions (about 140 calendar days), full otherwise.
	OutputSize string
}

// NewAlphaVantage returns a client; opts.BaseURL defaults to DefaultAlphaVantageBaseURL.
func NewAlphaVantage(opts ClientOptions) *AlphaVantage {
	return &AlphaVantage{c: restClient{provider: SourceAlphaVantage, opts: opts.withDefaults(DefaultAlphaVantageBaseURL)}}
}

// Name implements QuoteProvider and BarProvider.
func (a *AlphaVantage) Name() string { return SourceAlphaVantage }

func (a *AlphaVantage) query(ctx context.Context, symbol string, params url.Values) ([]byte, *MarketDataError) {
	if err := checkSymbol(symbol); err != nil {
		return nil, a.c.newError(symbol, KindNotFound, 0, err.Error(), nil)
	}
	params.Set("symbol", symbol)
	return a.call(ctx, symbol, params)
}

// call GETs the query endpoint with params and the key; symbol is for errors.
func (a *AlphaVantage) call(ctx context.Context, symbol string, params url.Values) ([]byte, *MarketDataError) {
	u, err := url.Parse(a.c.opts.BaseURL)
	if err != nil {
		return nil, a.c.newError(symbol, KindUpstream, 0, "bad base URL: "+errText(err), err)
	}
	params.Set("apikey", a.c.opts.APIKey)
	u.RawQuery = params.Encode()
	return a.c.get(ctx, symbol, u, nil)
}

func (a *AlphaVantage) fail(e *MarketDataError, symbol string) *MarketDataError {
	e.Provider, e.Symbol, e.At = SourceAlphaVantage, symbol, a.c.opts.Now().UTC()
	e.Message = redact(e.Message, a.c.opts.APIKey)
	return e
}

// Quote implements QuoteProvider with GLOBAL_QUOTE. The quote carries no time of day:
// when its latest trading day is today in New York the timestamp is the fetch time,
// otherwise it is that day's 16:00 New York close.
func (a *AlphaVantage) Quote(ctx context.Context, symbol string) (Quote, error) {
	if pair, ok := market.ParseFXPair(symbol); ok {
		return a.fxQuote(ctx, symbol, pair)
	}
	body, mdErr := a.query(ctx, symbol, url.Values{"function": {"GLOBAL_QUOTE"}})
	if mdErr != nil {
		return Quote{}, mdErr
	}
	now := a.c.opts.Now()
	q, mdErr := parseAlphaVantageQuote(body, symbol, now)
	if mdErr != nil {
		return Quote{}, a.fail(mdErr, symbol)
	}
	return q, nil
}

// DailyBars implements BarProvider with TIME_SERIES_DAILY (unadjusted), and
// FX_DAILY for a currency pair.
func (a *AlphaVantage) DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]DailyBar, error) {
	size := a.OutputSize
	if size == "" {
		size = "compact"
		if calendar.FromTime(a.c.opts.Now().In(market.NewYork())).DaysSince(from) > 140 {
			size = "full"
		}
	}
	if pair, ok := market.ParseFXPair(symbol); ok {
		return a.fxDaily(ctx, symbol, pair, from, to, size)
	}
	body, mdErr := a.query(ctx, symbol, url.Values{"function": {"TIME_SERIES_DAILY"}, "outputsize": {size}})
	if mdErr != nil {
		return nil, mdErr
	}
	bars, mdErr := parseAlphaVantageDaily(body, symbol, from, to, a.c.opts.Now())
	if mdErr != nil {
		return nil, a.fail(mdErr, symbol)
	}
	return bars, nil
}

// alphaVantageEnvelope reads the keys every Alpha Vantage answer may carry.
func alphaVantageEnvelope(body []byte, now time.Time) (map[string]json.RawMessage, *MarketDataError) {
	var top map[string]json.RawMessage
	if err := decodeStrict(body, &top); err != nil {
		return nil, malformed("body is not a JSON object: " + snippet(body))
	}
	if top == nil {
		return nil, malformed("body is null")
	}
	for _, key := range []string{"Information", "Note"} {
		if raw, ok := top[key]; ok {
			msg := avText(raw)
			if key == "Information" && strings.Contains(strings.ToLower(msg), "premium endpoint") {
				// Not a quota: the key's plan lacks the function. Retrying never helps.
				return nil, &MarketDataError{Kind: KindHTTPStatus, Status: http.StatusForbidden, Message: msg}
			}
			e := &MarketDataError{Kind: KindRateLimited, Message: msg, RetryAfter: time.Minute}
			// "Note" is the per-minute throttle; "Information" speaking of a day is the
			// daily quota, which resets at (about) midnight UTC.
			if key == "Information" && strings.Contains(strings.ToLower(msg), "day") {
				y, m, d := now.UTC().Date()
				e.RetryAfter = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
			}
			return nil, e
		}
	}
	if raw, ok := top["Error Message"]; ok {
		msg := avText(raw)
		if strings.Contains(strings.ToLower(msg), "invalid api call") {
			return nil, &MarketDataError{Kind: KindNotFound, Message: msg}
		}
		return nil, &MarketDataError{Kind: KindUpstream, Message: msg}
	}
	return top, nil
}

func avText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return snippet([]byte(s))
	}
	return snippet(raw)
}

// avField reads a string field of an Alpha Vantage object and parses it exactly.
func avField(m map[string]string, key string) (decimal.Decimal, *MarketDataError) {
	s, ok := m[key]
	if !ok {
		return decimal.Decimal{}, malformed("missing \"" + key + "\"")
	}
	d, err := parseDecimal(strings.TrimSpace(s))
	if err != nil {
		return decimal.Decimal{}, malformed("\"" + key + "\": " + err.Error())
	}
	return d, nil
}

func parseAlphaVantageQuote(body []byte, symbol string, now time.Time) (Quote, *MarketDataError) {
	top, e := alphaVantageEnvelope(body, now)
	if e != nil {
		return Quote{}, e
	}
	raw, ok := top["Global Quote"]
	if !ok {
		return Quote{}, malformed("no \"Global Quote\" in the answer")
	}
	var gq map[string]string
	if err := json.Unmarshal(raw, &gq); err != nil {
		return Quote{}, malformed("\"Global Quote\" is not an object of strings")
	}
	if len(gq) == 0 {
		return Quote{}, &MarketDataError{Kind: KindNotFound, Message: "empty \"Global Quote\": unknown symbol"}
	}
	price, e := avField(gq, "05. price")
	if e != nil {
		return Quote{}, e
	}
	if !price.IsPositive() {
		return Quote{}, malformed("price " + price.String() + " is not positive")
	}
	vol, e := avField(gq, "06. volume")
	if e != nil {
		return Quote{}, e
	}
	if vol.IsNegative() {
		return Quote{}, malformed("negative volume")
	}
	day, err := calendar.Parse(gq["07. latest trading day"])
	if err != nil {
		return Quote{}, malformed("\"07. latest trading day\": " + err.Error())
	}
	ts := now.UTC()
	ny := market.NewYork()
	if day != calendar.FromTime(now.In(ny)) {
		y, m, d := day.Time().Date()
		ts = time.Date(y, m, d, 16, 0, 0, 0, ny).UTC()
	}
	q := Quote{Symbol: symbol, Price: price, Volume: vol, Timestamp: ts, Source: SourceAlphaVantage}
	if _, ok := gq["08. previous close"]; ok {
		pc, e := avField(gq, "08. previous close")
		if e != nil {
			return Quote{}, e
		}
		if pc.IsNegative() {
			return Quote{}, malformed("negative previous close")
		}
		q.PreviousClose = pc
	}
	if s := gq["01. symbol"]; s != "" && !strings.EqualFold(s, symbol) {
		return Quote{}, malformed("answer is for " + truncate(s) + ", not " + symbol)
	}
	return q, nil
}

func parseAlphaVantageDaily(body []byte, symbol string, from, to calendar.Date, now time.Time) ([]DailyBar, *MarketDataError) {
	return parseAlphaVantageSeries(body, "Time Series (Daily)", symbol, from, to, now)
}

// parseAlphaVantageSeries reads the daily series under key; a series without
// volumes (FX_DAILY's) has bars of volume 0.
func parseAlphaVantageSeries(body []byte, key, symbol string, from, to calendar.Date, now time.Time) ([]DailyBar, *MarketDataError) {
	top, e := alphaVantageEnvelope(body, now)
	if e != nil {
		return nil, e
	}
	raw, ok := top[key]
	if !ok {
		return nil, malformed("no \"" + key + "\" in the answer")
	}
	var series map[string]map[string]string
	if err := json.Unmarshal(raw, &series); err != nil {
		return nil, malformed("\"" + key + "\" is not an object of objects of strings")
	}
	bars := make([]DailyBar, 0, len(series))
	for ds, fields := range series {
		day, err := calendar.Parse(ds)
		if err != nil {
			return nil, malformed("series key: " + err.Error())
		}
		if day.Before(from) || day.After(to) {
			continue
		}
		b := DailyBar{Symbol: symbol, Date: day, Volume: decimal.Zero, Source: SourceAlphaVantage}
		for _, f := range []struct {
			key string
			dst *decimal.Decimal
		}{{"1. open", &b.Open}, {"2. high", &b.High}, {"3. low", &b.Low}, {"4. close", &b.Close}, {"5. volume", &b.Volume}} {
			if _, ok := fields[f.key]; !ok && f.key == "5. volume" && key != "Time Series (Daily)" {
				continue
			}
			v, e := avField(fields, f.key)
			if e != nil {
				e.Message = ds + ": " + e.Message
				return nil, e
			}
			*f.dst = v
		}
		if err := b.Validate(); err != nil {
			return nil, malformed(err.Error())
		}
		bars = append(bars, b)
	}
	sort.Slice(bars, func(i, j int) bool { return bars[i].Date < bars[j].Date })
	return bars, nil
}
