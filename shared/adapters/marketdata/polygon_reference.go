package marketdata

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// maxPolygonPages bounds how many next_url pages one call follows (a daily
// history is one page of up to 50,000 bars; a symbol's splits or dividends one
// page of 1,000): a provider that keeps paging cannot hold a call forever.
const maxPolygonPages = 10

// pages GETs first and then every next_url the answers carry, handing each 2xx
// body to page. next_url must stay on the base URL's host, since the key goes
// with it. An error of any page is the call's error, and so is a next_url
// after max pages: a history with a hole is never returned as if whole. With
// max 0 only the first page is read, whatever follows it (a search's answer is
// its first page).
func (p *Polygon) pages(ctx context.Context, symbol string, first *url.URL, max int, page func(body []byte) *MarketDataError) *MarketDataError {
	h := http.Header{}
	if p.c.opts.APIKey != "" {
		h.Set("Authorization", "Bearer "+p.c.opts.APIKey)
	}
	u := first
	for n := 0; ; n++ {
		body, mdErr := p.c.get(ctx, symbol, u, h)
		if mdErr != nil {
			return mdErr
		}
		if mdErr := page(body); mdErr != nil {
			return p.fail(mdErr, symbol)
		}
		var env struct {
			NextURL string `json:"next_url"`
		}
		_ = json.Unmarshal(body, &env)
		if env.NextURL == "" || max == 0 {
			return nil
		}
		if n+1 >= max {
			return p.fail(malformed("the answer runs past "+strconv.Itoa(max)+" pages"), symbol)
		}
		next, err := url.Parse(env.NextURL)
		if err != nil || next.Host != first.Host || (next.Scheme != "https" && next.Scheme != first.Scheme) {
			return p.fail(malformed("next_url does not point at the API's own host"), symbol)
		}
		u = next
	}
}

func (p *Polygon) fail(e *MarketDataError, symbol string) *MarketDataError {
	e.Provider, e.Symbol, e.At = SourcePolygon, symbol, p.c.opts.Now().UTC()
	e.Message = redact(e.Message, p.c.opts.APIKey)
	return e
}

func (p *Polygon) endpoint(symbol, path string, query url.Values) (*url.URL, *MarketDataError) {
	u, err := url.Parse(p.c.opts.BaseURL + path)
	if err != nil {
		return nil, p.c.newError(symbol, KindUpstream, 0, "bad base URL: "+errText(err), err)
	}
	u.RawQuery = query.Encode()
	return u, nil
}

// Quote implements QuoteProvider. It asks the snapshot
// (GET /v2/snapshot/locale/us/markets/stocks/tickers/{T}: the last trade, or
// the day's or the last minute's close). Free plans answer that with
// NOT_AUTHORIZED (403); the client then remembers it for the life of the
// process and quotes from GET /v2/aggs/ticker/{T}/prev instead: the previous
// session's close, timestamped at that session's 16:00 New York close. Currency
// pairs (C:EURUSD, unconfirmed on free plans) always use /prev.
func (p *Polygon) Quote(ctx context.Context, symbol string) (Quote, error) {
	if err := checkSymbol(symbol); err != nil {
		return Quote{}, p.c.newError(symbol, KindNotFound, 0, err.Error(), nil)
	}
	if !market.IsFX(symbol) && !p.snapshotDenied.Load() {
		q, mdErr := p.snapshot(ctx, symbol)
		if mdErr == nil {
			return q, nil
		}
		if mdErr.Kind != KindHTTPStatus || mdErr.Status != http.StatusForbidden {
			return Quote{}, mdErr
		}
		p.snapshotDenied.Store(true)
	}
	return p.previousClose(ctx, symbol)
}

type polygonSnapshotBody struct {
	Status  string `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message"`
	Ticker  *struct {
		Updated   json.Number `json:"updated"`
		LastTrade *struct {
			P json.Number `json:"p"`
			T json.Number `json:"t"`
		} `json:"lastTrade"`
		Day *struct {
			C json.Number `json:"c"`
			V json.Number `json:"v"`
		} `json:"day"`
		Min *struct {
			C json.Number `json:"c"`
			T json.Number `json:"t"`
		} `json:"min"`
		PrevDay *struct {
			C json.Number `json:"c"`
		} `json:"prevDay"`
	} `json:"ticker"`
}

func (p *Polygon) snapshot(ctx context.Context, symbol string) (Quote, *MarketDataError) {
	u, mdErr := p.endpoint(symbol, "/v2/snapshot/locale/us/markets/stocks/tickers/"+url.PathEscape(symbol), url.Values{})
	if mdErr != nil {
		return Quote{}, mdErr
	}
	var q Quote
	mdErr = p.pages(ctx, symbol, u, 1, func(body []byte) *MarketDataError {
		var e *MarketDataError
		q, e = parsePolygonSnapshot(body, symbol)
		return e
	})
	return q, mdErr
}

// parsePolygonSnapshot reads a snapshot: the last trade's price and time
// (nanoseconds), else the last minute's close, else the day's close at the
// snapshot's "updated" time.
func parsePolygonSnapshot(body []byte, symbol string) (Quote, *MarketDataError) {
	var b polygonSnapshotBody
	if err := decodeStrict(body, &b); err != nil {
		return Quote{}, malformed("snapshot body: " + err.Error() + ": " + snippet(body))
	}
	if e := polygonStatus(polygonAggsBody{Status: b.Status, Error: b.Error, Message: b.Message}); e != nil {
		return Quote{}, e
	}
	t := b.Ticker
	if t == nil {
		return Quote{}, &MarketDataError{Kind: KindNotFound, Message: "snapshot has no ticker: unknown symbol"}
	}
	var price json.Number
	var stamp json.Number
	unit := time.Nanosecond
	switch {
	case t.LastTrade != nil && positive(t.LastTrade.P):
		price, stamp = t.LastTrade.P, t.LastTrade.T
	case t.Min != nil && positive(t.Min.C):
		price, stamp, unit = t.Min.C, t.Min.T, time.Millisecond
	case t.Day != nil && positive(t.Day.C):
		price, stamp = t.Day.C, t.Updated
	default:
		return Quote{}, &MarketDataError{Kind: KindNotFound, Message: "snapshot carries no price"}
	}
	px, err := numberDecimal(price)
	if err != nil {
		return Quote{}, malformed("snapshot price: " + err.Error())
	}
	n, err := numberInt64(stamp)
	if err != nil || n <= 0 || n/int64(time.Second/unit) > maxUnixSeconds {
		return Quote{}, malformed("snapshot time is missing or out of range")
	}
	q := Quote{Symbol: symbol, Price: px, Volume: decimal.Zero, Timestamp: time.Unix(0, n*int64(unit)).UTC(), Source: SourcePolygon}
	if t.Day != nil && t.Day.V != "" {
		if v, err := numberDecimal(t.Day.V); err == nil && !v.IsNegative() {
			q.Volume = v
		}
	}
	if t.PrevDay != nil && t.PrevDay.C != "" {
		if pc, err := numberDecimal(t.PrevDay.C); err == nil && !pc.IsNegative() {
			q.PreviousClose = pc
		}
	}
	return q, nil
}

func positive(n json.Number) bool {
	d, err := numberDecimal(n)
	return err == nil && d.IsPositive()
}

// previousClose quotes the previous session's close from /prev.
func (p *Polygon) previousClose(ctx context.Context, symbol string) (Quote, error) {
	u, mdErr := p.endpoint(symbol, "/v2/aggs/ticker/"+url.PathEscape(ProviderSymbol(SourcePolygon, symbol))+"/prev", url.Values{"adjusted": {"true"}})
	if mdErr != nil {
		return Quote{}, mdErr
	}
	var bars []DailyBar
	mdErr = p.pages(ctx, symbol, u, 1, func(body []byte) *MarketDataError {
		var e *MarketDataError
		bars, e = parsePolygonAggs(body, symbol)
		return e
	})
	if mdErr != nil {
		return Quote{}, mdErr
	}
	if len(bars) == 0 {
		return Quote{}, p.fail(&MarketDataError{Kind: KindNotFound, Message: "no previous close: unknown symbol"}, symbol)
	}
	bar := bars[len(bars)-1]
	y, m, d := bar.Date.Time().Date()
	return Quote{Symbol: symbol, Price: bar.Close, Volume: bar.Volume, Source: SourcePolygon,
		Timestamp: time.Date(y, m, d, 16, 0, 0, 0, market.NewYork()).UTC()}, nil
}

// polygonStatus maps an answer's status to an error (nil for OK and DELAYED).
func polygonStatus(b polygonAggsBody) *MarketDataError {
	switch strings.ToUpper(b.Status) {
	case "OK", "DELAYED":
		return nil
	case "ERROR":
		msg := polygonText(b)
		if strings.Contains(strings.ToLower(msg), "exceeded the maximum requests") {
			return &MarketDataError{Kind: KindRateLimited, Message: msg, RetryAfter: time.Minute}
		}
		return &MarketDataError{Kind: KindUpstream, Message: msg}
	case "NOT_AUTHORIZED":
		return &MarketDataError{Kind: KindHTTPStatus, Status: http.StatusForbidden, Message: polygonText(b)}
	case "NOT_FOUND":
		return &MarketDataError{Kind: KindNotFound, Message: polygonText(b)}
	}
	return malformed("unknown status " + truncate(b.Status))
}

// Search implements SymbolSearcher with
// GET /v3/reference/tickers?search=Q&market=stocks&active=true&limit=20.
func (p *Polygon) Search(ctx context.Context, query string) ([]market.SymbolMatch, error) {
	if e := CheckQuery(SourcePolygon, query); e != nil {
		return nil, p.fail(e, "")
	}
	u, mdErr := p.endpoint("", "/v3/reference/tickers", url.Values{"search": {query}, "market": {"stocks"},
		"active": {"true"}, "limit": {strconv.Itoa(MaxSearchResults)}})
	if mdErr != nil {
		return nil, mdErr
	}
	var out []market.SymbolMatch
	mdErr = p.pages(ctx, "", u, 0, func(body []byte) *MarketDataError {
		var b struct {
			polygonEnvelope
			Results []struct {
				Ticker          string `json:"ticker"`
				Name            string `json:"name"`
				Type            string `json:"type"`
				PrimaryExchange string `json:"primary_exchange"`
				CurrencyName    string `json:"currency_name"`
			} `json:"results"`
		}
		if e := decodePolygon(body, &b, &b.polygonEnvelope); e != nil {
			return e
		}
		for _, r := range b.Results {
			out = append(out, market.SymbolMatch{Symbol: r.Ticker, Description: r.Name, Type: r.Type,
				Exchange: r.PrimaryExchange, Currency: strings.ToUpper(r.CurrencyName), Source: SourcePolygon})
		}
		return nil
	})
	if mdErr != nil {
		return nil, mdErr
	}
	return boundMatches(out), nil
}

type polygonEnvelope struct {
	Status  string `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

func decodePolygon(body []byte, v any, env *polygonEnvelope) *MarketDataError {
	if err := decodeStrict(body, v); err != nil {
		return malformed("body: " + err.Error() + ": " + snippet(body))
	}
	return polygonStatus(polygonAggsBody{Status: env.Status, Error: env.Error, Message: env.Message})
}

// CorporateActions implements CorporateActionProvider with
// GET /v3/reference/splits?ticker=T&execution_date.gte=&execution_date.lte= and
// GET /v3/reference/dividends?ticker=T&ex_dividend_date.gte=&ex_dividend_date.lte=,
// following next_url (bounded). An entry that is not a valid action (a split
// of 1 into 1, a dividend of 0) is skipped. Currency pairs have none.
func (p *Polygon) CorporateActions(ctx context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error) {
	if err := checkSymbol(symbol); err != nil {
		return nil, p.c.newError(symbol, KindNotFound, 0, err.Error(), nil)
	}
	out := []market.CorporateAction{}
	if market.IsFX(symbol) || to.Before(from) {
		return out, nil
	}
	limit := url.Values{"ticker": {symbol}, "limit": {"1000"}}
	splits, mdErr := p.endpoint(symbol, "/v3/reference/splits", with(limit, "execution_date.gte", from.String(), "execution_date.lte", to.String()))
	if mdErr != nil {
		return nil, mdErr
	}
	mdErr = p.pages(ctx, symbol, splits, maxPolygonPages, func(body []byte) *MarketDataError {
		var b struct {
			polygonEnvelope
			Results []struct {
				Ticker        string      `json:"ticker"`
				ExecutionDate string      `json:"execution_date"`
				SplitFrom     json.Number `json:"split_from"`
				SplitTo       json.Number `json:"split_to"`
			} `json:"results"`
		}
		if e := decodePolygon(body, &b, &b.polygonEnvelope); e != nil {
			return e
		}
		for _, r := range b.Results {
			day, err := calendar.Parse(r.ExecutionDate)
			fromN, err1 := numberDecimal(r.SplitFrom)
			toN, err2 := numberDecimal(r.SplitTo)
			a := market.CorporateAction{Kind: market.ActionSplit, Symbol: symbol, Date: day, SplitFrom: fromN, SplitTo: toN, Source: SourcePolygon}
			if err == nil && err1 == nil && err2 == nil && a.Validate() == nil && !day.Before(from) && !day.After(to) {
				out = append(out, a)
			}
		}
		return nil
	})
	if mdErr != nil {
		return nil, mdErr
	}
	dividends, mdErr := p.endpoint(symbol, "/v3/reference/dividends", with(limit, "ex_dividend_date.gte", from.String(), "ex_dividend_date.lte", to.String()))
	if mdErr != nil {
		return nil, mdErr
	}
	mdErr = p.pages(ctx, symbol, dividends, maxPolygonPages, func(body []byte) *MarketDataError {
		var b struct {
			polygonEnvelope
			Results []struct {
				Ticker         string      `json:"ticker"`
				ExDividendDate string      `json:"ex_dividend_date"`
				PayDate        string      `json:"pay_date"`
				CashAmount     json.Number `json:"cash_amount"`
				Currency       string      `json:"currency"`
				DividendType   string      `json:"dividend_type"`
			} `json:"results"`
		}
		if e := decodePolygon(body, &b, &b.polygonEnvelope); e != nil {
			return e
		}
		for _, r := range b.Results {
			day, err := calendar.Parse(r.ExDividendDate)
			cash, err1 := numberDecimal(r.CashAmount)
			a := market.CorporateAction{Kind: market.ActionDividend, Symbol: symbol, Date: day, CashAmount: cash,
				Currency: strings.ToUpper(r.Currency), Source: SourcePolygon}
			if pay, err := calendar.Parse(r.PayDate); err == nil {
				a.PayDate = &pay
			}
			if err == nil && err1 == nil && a.Validate() == nil && !day.Before(from) && !day.After(to) {
				out = append(out, a)
			}
		}
		return nil
	})
	if mdErr != nil {
		return nil, mdErr
	}
	sortActions(out)
	return out, nil
}

// with is a copy of v with the key/value pairs added.
func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}
