package providerstub

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// polygon routes Polygon's paths (under /polygon).
func (s *Server) polygon(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/polygon")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 9 && parts[0] == "v2" && parts[1] == "aggs" && parts[2] == "ticker" && parts[4] == "range":
		s.polygonAggs(w, r, parts[3], parts[7], parts[8])
	case len(parts) == 5 && parts[0] == "v2" && parts[1] == "aggs" && parts[2] == "ticker" && parts[4] == "prev":
		s.polygonPrev(w, r, parts[3])
	case len(parts) == 8 && strings.Join(parts[:7], "/") == "v2/snapshot/locale/us/markets/stocks/tickers":
		s.polygonSnapshot(w, r, parts[7])
	case path == "/v3/reference/tickers":
		s.polygonTickers(w, r)
	case path == "/v3/reference/splits":
		s.polygonActions(w, r, PolygonSplits, market.ActionSplit)
	case path == "/v3/reference/dividends":
		s.polygonActions(w, r, PolygonDividends, market.ActionDividend)
	default:
		reply(w, http.StatusNotFound, map[string]string{"status": "NOT_FOUND", "message": "Not found", "request_id": "stub"}, nil)
	}
}

// polygonGate counts the call, checks the key and plays the shared faults; a
// next_url page (cursor set) is counted but plays no new fault, and the
// failing page of FailingNextPage answers 502. f is nil when it has answered.
func (s *Server) polygonGate(w http.ResponseWriter, r *http.Request, endpoint string, symbols ...string) (f *Fault, ok bool) {
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" {
		s.mu.Lock()
		s.calls[endpoint]++
		s.mu.Unlock()
	} else {
		f = s.call(endpoint, symbols...)
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.opts.Key != "" && auth != s.opts.Key && r.URL.Query().Get("apiKey") != s.opts.Key {
		reply(w, http.StatusUnauthorized, map[string]string{"status": "ERROR", "request_id": "stub", "error": "Unknown API Key"}, nil)
		return nil, false
	}
	if cursor == "fail" {
		html(w)
		return nil, false
	}
	if f == nil {
		return nil, true
	}
	switch f.Kind {
	case RateLimited:
		tooMany(w, f, map[string]string{"status": "ERROR", "request_id": "stub",
			"error": "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. https://polygon.io/pricing"})
	case HTMLError:
		html(w)
	case Unauthorized:
		reply(w, http.StatusForbidden, map[string]string{"status": "NOT_AUTHORIZED", "request_id": "stub",
			"message": "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"}, nil)
	default:
		return f, true
	}
	return nil, false
}

// page cuts results into the page the request's cursor names and sets
// next_url on body when more follow (PageSize, or two pages the second of
// which fails under FailingNextPage).
func (s *Server) page(r *http.Request, body map[string]any, results []map[string]any, f *Fault) {
	size := s.opts.PageSize
	failing := f != nil && f.Kind == FailingNextPage
	if failing {
		size = max(1, (len(results)+1)/2)
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	if size <= 0 || start < 0 || start > len(results) {
		body["results"] = results
		return
	}
	end := min(start+size, len(results))
	body["results"] = results[start:end]
	if end < len(results) || (failing && start == 0) {
		q := r.URL.Query()
		q.Set("cursor", strconv.Itoa(end))
		if failing {
			q.Set("cursor", "fail")
		}
		body["next_url"] = s.URL + r.URL.Path + "?" + q.Encode()
	}
}

func (s *Server) polygonAggs(w http.ResponseWriter, r *http.Request, ticker, from, to string) {
	symbol := marketdata.FromProviderSymbol(marketdata.SourcePolygon, ticker)
	f, ok := s.polygonGate(w, r, PolygonAggs, symbol, ticker)
	if !ok {
		return
	}
	body := map[string]any{"ticker": ticker, "adjusted": true, "status": "OK", "request_id": "stub", "queryCount": 0, "resultsCount": 0}
	fromDay, err1 := calendar.Parse(from)
	toDay, err2 := calendar.Parse(to)
	if err1 != nil || err2 != nil {
		reply(w, http.StatusBadRequest, map[string]string{"status": "ERROR", "request_id": "stub", "error": "Could not parse the date."}, nil)
		return
	}
	if s.known(symbol) {
		bars, _ := s.bars.DailyBars(r.Context(), symbol, fromDay, toDay)
		results := make([]map[string]any, 0, len(bars))
		ny := market.NewYork()
		for _, b := range bars {
			y, m, d := b.Date.Time().Date()
			results = append(results, map[string]any{"o": num(b.Open), "h": num(b.High), "l": num(b.Low), "c": num(b.Close),
				"v": num(b.Volume), "vw": num(b.Close), "t": time.Date(y, m, d, 0, 0, 0, 0, ny).UnixMilli(), "n": 100})
		}
		if f != nil && f.Kind == Partial && len(results) > 0 {
			delete(results[0], "c")
		}
		if len(results) > 0 {
			s.page(r, body, results, f)
			n := len(body["results"].([]map[string]any))
			body["queryCount"], body["resultsCount"], body["count"] = n, n, n
		}
	}
	reply(w, http.StatusOK, body, f)
}

func (s *Server) polygonPrev(w http.ResponseWriter, r *http.Request, ticker string) {
	symbol := marketdata.FromProviderSymbol(marketdata.SourcePolygon, ticker)
	f, ok := s.polygonGate(w, r, PolygonPrev, symbol, ticker)
	if !ok {
		return
	}
	body := map[string]any{"ticker": ticker, "adjusted": true, "status": "OK", "request_id": "stub", "queryCount": 0, "resultsCount": 0}
	if bars, _ := s.bars.DailyBars(r.Context(), symbol, s.today().AddDays(-10), s.today().AddDays(-1)); s.known(symbol) && len(bars) > 0 {
		b := bars[len(bars)-1]
		y, m, d := b.Date.Time().Date()
		res := map[string]any{"T": ticker, "o": num(b.Open), "h": num(b.High), "l": num(b.Low), "c": num(b.Close), "v": num(b.Volume),
			"vw": num(b.Close), "t": time.Date(y, m, d, 16, 0, 0, 0, market.NewYork()).UnixMilli(), "n": 100}
		if f != nil && f.Kind == Partial {
			delete(res, "c")
		}
		body["results"], body["queryCount"], body["resultsCount"] = []map[string]any{res}, 1, 1
	}
	reply(w, http.StatusOK, body, f)
}

func (s *Server) polygonSnapshot(w http.ResponseWriter, r *http.Request, ticker string) {
	f, ok := s.polygonGate(w, r, PolygonSnapshot, ticker)
	if !ok {
		return
	}
	q, err := s.quotes.Quote(r.Context(), ticker)
	pc, _, havePC := s.previousClose(ticker)
	if !s.known(ticker) || err != nil || !havePC {
		reply(w, http.StatusNotFound, map[string]string{"status": "NOT_FOUND", "request_id": "stub", "message": "Ticker not found."}, f)
		return
	}
	ns := q.Timestamp.UnixNano()
	trade := map[string]any{"p": num(q.Price), "s": 100, "t": ns, "x": 4, "i": "1"}
	if f != nil && f.Kind == Partial {
		delete(trade, "p")
	}
	reply(w, http.StatusOK, map[string]any{"status": "OK", "request_id": "stub", "ticker": map[string]any{
		"ticker": ticker, "updated": ns, "todaysChange": num(q.Price.Sub(pc)),
		"day":       map[string]any{"o": num(pc), "h": num(q.Price), "l": num(q.Price), "c": num(q.Price), "v": 1000, "vw": num(q.Price)},
		"lastTrade": trade,
		"prevDay":   map[string]any{"o": num(pc), "h": num(pc), "l": num(pc), "c": num(pc), "v": 1000, "vw": num(pc)},
	}}, f)
}

func (s *Server) polygonTickers(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query().Get("search")
	f, ok := s.polygonGate(w, r, PolygonTickers, query)
	if !ok {
		return
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 || limit > 1000 {
		limit = 100
	}
	if s.opts.PageSize > 0 {
		limit = min(limit, s.opts.PageSize)
	}
	matches, _ := s.search.Search(r.Context(), query)
	results := []map[string]any{}
	more := false
	for _, m := range matches {
		if !s.known(m.Symbol) || market.IsFX(m.Symbol) {
			continue
		}
		if len(results) == limit {
			more = true // Polygon then says where the next page is
			continue
		}
		res := map[string]any{"ticker": m.Symbol, "name": m.Description, "market": "stocks", "locale": "us",
			"primary_exchange": m.Exchange, "type": map[string]string{"ETF": "ETF"}[m.Type], "active": true, "currency_name": "usd"}
		if res["type"] == "" {
			res["type"] = "CS"
		}
		if f != nil && f.Kind == Partial {
			delete(res, "ticker")
		}
		results = append(results, res)
	}
	body := map[string]any{"status": "OK", "request_id": "stub", "count": len(results), "results": results}
	if more {
		body["next_url"] = "http://" + r.Host + "/v3/reference/tickers?cursor=stub"
	}
	reply(w, http.StatusOK, body, f)
}

func (s *Server) polygonActions(w http.ResponseWriter, r *http.Request, endpoint string, kind market.CorporateActionKind) {
	q := r.URL.Query()
	ticker := q.Get("ticker")
	f, ok := s.polygonGate(w, r, endpoint, ticker)
	if !ok {
		return
	}
	field := map[market.CorporateActionKind]string{market.ActionSplit: "execution_date", market.ActionDividend: "ex_dividend_date"}[kind]
	from, err1 := calendar.Parse(q.Get(field + ".gte"))
	to, err2 := calendar.Parse(q.Get(field + ".lte"))
	if err1 != nil {
		from = calendar.MustNew(1990, 1, 1)
	}
	if err2 != nil {
		to = s.today().AddDays(365)
	}
	body := map[string]any{"status": "OK", "request_id": "stub"}
	results := []map[string]any{}
	if s.known(ticker) {
		actions, _ := s.actions.CorporateActions(r.Context(), ticker, from, to)
		for _, a := range actions {
			if a.Kind != kind {
				continue
			}
			res := map[string]any{"ticker": ticker, "id": ticker + a.Date.String()}
			if kind == market.ActionSplit {
				res["execution_date"], res["split_from"], res["split_to"] = a.Date.String(), num(a.SplitFrom), num(a.SplitTo)
			} else {
				res["ex_dividend_date"], res["cash_amount"], res["currency"], res["dividend_type"] = a.Date.String(), num(a.CashAmount), a.Currency, "CD"
				res["frequency"] = 4
				if a.PayDate != nil {
					res["pay_date"] = a.PayDate.String()
				}
			}
			if f != nil && f.Kind == Partial {
				delete(res, field)
			}
			results = append(results, res)
		}
	}
	s.page(r, body, results, f)
	reply(w, http.StatusOK, body, f)
}
