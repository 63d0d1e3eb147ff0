package providerstub

import (
	"net/http"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// alphaVantage serves GET /query?function=F: GLOBAL_QUOTE, TIME_SERIES_DAILY
// (compact: the last 100 sessions), SYMBOL_SEARCH, CURRENCY_EXCHANGE_RATE and
// FX_DAILY. Like Alpha Vantage it answers almost everything with 200.
func (s *Server) alphaVantage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	function := q.Get("function")
	symbol := q.Get("symbol")
	switch function {
	case "SYMBOL_SEARCH":
		symbol = q.Get("keywords")
	case "CURRENCY_EXCHANGE_RATE":
		symbol = q.Get("from_currency") + q.Get("to_currency") + "=X"
	case "FX_DAILY":
		symbol = q.Get("from_symbol") + q.Get("to_symbol") + "=X"
	}
	f := s.call("alphavantage/"+function, symbol)
	if s.opts.Key != "" && q.Get("apikey") != s.opts.Key {
		reply(w, http.StatusOK, map[string]string{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key)."}, nil)
		return
	}
	if f != nil {
		switch f.Kind {
		case RateLimited:
			reply(w, http.StatusOK, map[string]string{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 25 calls per day."}, nil)
			return
		case HTMLError:
			html(w)
			return
		case Unauthorized:
			reply(w, http.StatusOK, map[string]string{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans to instantly unlock all premium endpoints."}, nil)
			return
		}
	}
	partial := f != nil && f.Kind == Partial
	invalid := map[string]string{"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for " + function + "."}
	switch function {
	case "GLOBAL_QUOTE":
		s.avQuote(w, r, symbol, f, partial)
	case "TIME_SERIES_DAILY", "FX_DAILY":
		if !s.known(symbol) || (function == "FX_DAILY" && !market.IsFX(symbol)) {
			reply(w, http.StatusOK, invalid, f)
			return
		}
		s.avDaily(w, r, function, symbol, q.Get("outputsize"), f, partial)
	case "SYMBOL_SEARCH":
		matches, _ := s.search.Search(r.Context(), symbol)
		best := []map[string]string{}
		for _, m := range matches {
			if !s.known(m.Symbol) || market.IsFX(m.Symbol) {
				continue
			}
			entry := map[string]string{"1. symbol": m.Symbol, "2. name": m.Description, "3. type": avType(m.Type), "4. region": "United States",
				"5. marketOpen": "09:30", "6. marketClose": "16:00", "7. timezone": "UTC-04", "8. currency": "USD", "9. matchScore": "1.0000"}
			if partial {
				delete(entry, "1. symbol")
			}
			best = append(best, entry)
		}
		reply(w, http.StatusOK, map[string]any{"bestMatches": best}, f)
	case "CURRENCY_EXCHANGE_RATE":
		pair, ok := market.ParseFXPair(symbol)
		quote, err := s.quotes.Quote(r.Context(), symbol)
		if !ok || !s.known(symbol) || err != nil {
			reply(w, http.StatusOK, invalid, f)
			return
		}
		rate := map[string]string{"1. From_Currency Code": pair.Base, "2. From_Currency Name": pair.Base, "3. To_Currency Code": pair.Quote,
			"4. To_Currency Name": pair.Quote, "5. Exchange Rate": quote.Price.StringFixed(8),
			"6. Last Refreshed": quote.Timestamp.UTC().Format("2006-01-02 15:04:05"), "7. Time Zone": "UTC",
			"8. Bid Price": quote.Price.StringFixed(8), "9. Ask Price": quote.Price.StringFixed(8)}
		if partial {
			delete(rate, "5. Exchange Rate")
		}
		reply(w, http.StatusOK, map[string]any{"Realtime Currency Exchange Rate": rate}, f)
	default:
		reply(w, http.StatusOK, map[string]string{"Error Message": "This API function (" + function + ") does not exist."}, f)
	}
}

func avType(t string) string {
	if t == "ETF" {
		return "ETF"
	}
	return "Equity"
}

func (s *Server) avQuote(w http.ResponseWriter, r *http.Request, symbol string, f *Fault, partial bool) {
	q, err := s.quotes.Quote(r.Context(), symbol)
	pc, pcDay, ok := s.previousClose(symbol)
	if !s.known(symbol) || err != nil || !ok {
		reply(w, http.StatusOK, map[string]any{"Global Quote": map[string]string{}}, f)
		return
	}
	// The simulated live walk is today's (UTC) session; before it, the day's
	// quote is the previous close.
	day := s.today()
	if day.Time().Weekday() == 0 || day.Time().Weekday() == 6 {
		q.Price, day = pc, pcDay
	}
	change := q.Price.Sub(pc)
	gq := map[string]string{"01. symbol": symbol, "02. open": pc.StringFixed(4), "03. high": decimal.Max(pc, q.Price).StringFixed(4),
		"04. low": decimal.Min(pc, q.Price).StringFixed(4), "05. price": q.Price.StringFixed(4), "06. volume": "1000",
		"07. latest trading day": day.String(), "08. previous close": pc.StringFixed(4), "09. change": change.StringFixed(4),
		"10. change percent": change.Div(pc).Mul(decimal.NewFromInt(100)).StringFixed(4) + "%"}
	if partial {
		delete(gq, "05. price")
	}
	reply(w, http.StatusOK, map[string]any{"Global Quote": gq}, f)
}

func (s *Server) avDaily(w http.ResponseWriter, r *http.Request, function, symbol, size string, f *Fault, partial bool) {
	today := s.today()
	from := today.AddDays(-365 * 20)
	if size != "full" {
		from = today.AddDays(-150)
	}
	bars, _ := s.bars.DailyBars(r.Context(), symbol, from, today.AddDays(-1))
	if size != "full" && len(bars) > 100 {
		bars = bars[len(bars)-100:]
	}
	fx := function == "FX_DAILY"
	series := make(map[string]map[string]string, len(bars))
	places := int32(4)
	if fx {
		places = 6
	}
	for i, b := range bars {
		day := map[string]string{"1. open": b.Open.StringFixed(places), "2. high": b.High.StringFixed(places),
			"3. low": b.Low.StringFixed(places), "4. close": b.Close.StringFixed(places)}
		if !fx {
			day["5. volume"] = b.Volume.String()
		}
		if partial && i == len(bars)-1 {
			delete(day, "4. close")
		}
		series[b.Date.String()] = day
	}
	key, meta := "Time Series (Daily)", map[string]string{"1. Information": "Daily Prices (open, high, low, close) and Volumes",
		"2. Symbol": symbol, "3. Last Refreshed": lastDay(bars), "4. Output Size": "Compact", "5. Time Zone": "US/Eastern"}
	if fx {
		key = "Time Series FX (Daily)"
		pair, _ := market.ParseFXPair(symbol)
		meta = map[string]string{"1. Information": "Forex Daily Prices (open, high, low, close)", "2. From Symbol": pair.Base,
			"3. To Symbol": pair.Quote, "4. Output Size": "Compact", "5. Last Refreshed": lastDay(bars), "6. Time Zone": "UTC"}
	}
	if size == "full" {
		meta["4. Output Size"] = "Full size"
	}
	reply(w, http.StatusOK, map[string]any{"Meta Data": meta, key: series}, f)
}

func lastDay(bars []market.DailyBar) string {
	if len(bars) == 0 {
		return ""
	}
	return bars[len(bars)-1].Date.String()
}
