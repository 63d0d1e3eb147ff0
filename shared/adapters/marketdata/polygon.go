package marketdata

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// DefaultPolygonBaseURL is Polygon's REST API (Massive, since the rename, serves the
// same paths under its own host; point BaseURL there if preferred).
const DefaultPolygonBaseURL = "https://api.polygon.io"

// Polygon is the client for quotes (see Quote), symbol search, splits and
// dividends (polygon_reference.go) and daily aggregates:
// GET {base}/v2/aggs/ticker/{T}/range/1/day/{from}/{to}?adjusted=true&sort=asc&limit=50000,
// the key sent as "Authorization: Bearer".
//
// Answer: {"ticker","status","queryCount","resultsCount","adjusted","results":[{"o","h","l","c","v","vw","t","n"}],"request_id"}.
// status "OK" and "DELAYED" (free plans) carry data; "results" is absent or null when
// no session falls in the range — which is also how an unknown ticker answers, so
// both are an empty slice, not an error. {"status":"ERROR","error":"..."} and
// {"status":"NOT_AUTHORIZED","message":"..."} are failures; HTTP 429 is
// KindRateLimited. "t" is the bar's start in Unix milliseconds (midnight New York
// for a daily bar), which gives the session's date.
type Polygon struct {
	c restClient
	// snapshotDenied is set once the snapshot endpoint answers NOT_AUTHORIZED
	// (free plans): from then on quotes come from /prev without asking it again.
	snapshotDenied atomic.Bool
}

// NewPolygon returns a client; opts.BaseURL defaults to DefaultPolygonBaseURL.
func NewPolygon(opts ClientOptions) *Polygon {
	return &Polygon{c: restClient{provider: SourcePolygon, opts: opts.withDefaults(DefaultPolygonBaseURL), errorText: polygonErrorText}}
}

// Name implements BarProvider.
func (p *Polygon) Name() string { return SourcePolygon }

// DailyBars implements BarProvider (split-adjusted bars).
func (p *Polygon) DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]DailyBar, error) {
	if err := checkSymbol(symbol); err != nil {
		return nil, p.c.newError(symbol, KindNotFound, 0, err.Error(), nil)
	}
	if to.Before(from) {
		return []DailyBar{}, nil
	}
	u, err := url.Parse(p.c.opts.BaseURL + "/v2/aggs/ticker/" + url.PathEscape(ProviderSymbol(SourcePolygon, symbol)) + "/range/1/day/" + from.String() + "/" + to.String())
	if err != nil {
		return nil, p.c.newError(symbol, KindUpstream, 0, "bad base URL: "+errText(err), err)
	}
	u.RawQuery = url.Values{"adjusted": {"true"}, "sort": {"asc"}, "limit": {"50000"}}.Encode()
	bars := []DailyBar{}
	mdErr := p.pages(ctx, symbol, u, maxPolygonPages, func(body []byte) *MarketDataError {
		page, mdErr := parsePolygonAggs(body, symbol)
		bars = append(bars, page...)
		return mdErr
	})
	if mdErr != nil {
		return nil, mdErr
	}
	out := bars[:0]
	for _, b := range bars {
		if !b.Date.Before(from) && !b.Date.After(to) {
			out = append(out, b)
		}
	}
	return out, nil
}

type polygonAgg struct {
	O *json.Number `json:"o"`
	H *json.Number `json:"h"`
	L *json.Number `json:"l"`
	C *json.Number `json:"c"`
	V *json.Number `json:"v"`
	T *json.Number `json:"t"`
	// "T" (the ticker, in /prev's results) must have a field of its own: Go's
	// decoder would otherwise match it to "t" without regard to case.
	Ticker json.RawMessage `json:"T"`
}

type polygonAggsBody struct {
	Status       string       `json:"status"`
	ResultsCount *json.Number `json:"resultsCount"`
	Results      []polygonAgg `json:"results"`
	Error        string       `json:"error"`
	Message      string       `json:"message"`
}

func parsePolygonAggs(body []byte, symbol string) ([]DailyBar, *MarketDataError) {
	var b polygonAggsBody
	if err := decodeStrict(body, &b); err != nil {
		return nil, malformed("aggregates body: " + err.Error() + ": " + snippet(body))
	}
	if e := polygonStatus(b); e != nil {
		return nil, e
	}
	bars := make([]DailyBar, 0, len(b.Results))
	ny := market.NewYork()
	for i, r := range b.Results {
		if r.O == nil || r.H == nil || r.L == nil || r.C == nil || r.T == nil {
			return nil, malformed("result " + strconv.Itoa(i) + " lacks one of o, h, l, c, t")
		}
		bar := DailyBar{Symbol: symbol, Source: SourcePolygon}
		var err error
		if bar.Open, err = numberDecimal(*r.O); err != nil {
			return nil, malformed("result " + strconv.Itoa(i) + " o: " + err.Error())
		}
		if bar.High, err = numberDecimal(*r.H); err != nil {
			return nil, malformed("result " + strconv.Itoa(i) + " h: " + err.Error())
		}
		if bar.Low, err = numberDecimal(*r.L); err != nil {
			return nil, malformed("result " + strconv.Itoa(i) + " l: " + err.Error())
		}
		if bar.Close, err = numberDecimal(*r.C); err != nil {
			return nil, malformed("result " + strconv.Itoa(i) + " c: " + err.Error())
		}
		if r.V != nil {
			if bar.Volume, err = numberDecimal(*r.V); err != nil {
				return nil, malformed("result " + strconv.Itoa(i) + " v: " + err.Error())
			}
		}
		ms, err := numberInt64(*r.T)
		if err != nil || ms <= 0 || ms > maxUnixSeconds*1000 {
			return nil, malformed("result " + strconv.Itoa(i) + " t is not a Unix millisecond time")
		}
		bar.Date = calendar.FromTime(time.UnixMilli(ms).In(ny))
		if err := bar.Validate(); err != nil {
			return nil, malformed(err.Error())
		}
		bars = append(bars, bar)
	}
	return bars, nil
}

func polygonText(b polygonAggsBody) string {
	switch {
	case b.Error != "":
		return snippet([]byte(b.Error))
	case b.Message != "":
		return snippet([]byte(b.Message))
	}
	return "status " + truncate(b.Status)
}

func polygonErrorText(body []byte) string {
	var b polygonAggsBody
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	if b.Error == "" && b.Message == "" {
		return ""
	}
	return polygonText(b)
}
