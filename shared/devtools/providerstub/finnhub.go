package providerstub

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
)

// finnhubGate checks the key and plays the faults every Finnhub REST endpoint
// shares; false when it has answered.
func (s *Server) finnhubGate(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if s.opts.Key != "" && r.Header.Get("X-Finnhub-Token") != s.opts.Key && r.URL.Query().Get("token") != s.opts.Key {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "Invalid API key"}, nil)
		return false
	}
	if f == nil {
		return true
	}
	switch f.Kind {
	case RateLimited:
		tooMany(w, f, map[string]string{"error": "API limit reached. Please try again later. Remaining Limit: 0"})
	case HTMLError:
		html(w)
	case Unauthorized:
		reply(w, http.StatusForbidden, map[string]string{"error": "You don't have access to this resource."}, nil)
	default:
		return true
	}
	return false
}

// finnhubQuote: GET /quote?symbol=S -> {"c","d","dp","h","l","o","pc","t"}; an
// unknown symbol is every field 0 with d and dp null.
func (s *Server) finnhubQuote(w http.ResponseWriter, r *http.Request) {
	asked := r.URL.Query().Get("symbol")
	symbol := marketdata.FromProviderSymbol(marketdata.SourceFinnhub, asked)
	f := s.call(FinnhubQuote, symbol, asked)
	if !s.finnhubGate(w, r, f) {
		return
	}
	q, err := s.quotes.Quote(r.Context(), symbol)
	pc, _, ok := s.previousClose(symbol)
	if !s.known(symbol) || err != nil || !ok {
		reply(w, http.StatusOK, map[string]any{"c": 0, "d": nil, "dp": nil, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}, f)
		return
	}
	d := q.Price.Sub(pc)
	body := map[string]any{"c": num(q.Price), "d": num(d), "dp": num(d.Div(pc).Mul(decimal.NewFromInt(100)).Round(4)),
		"h": num(decimal.Max(q.Price, pc)), "l": num(decimal.Min(q.Price, pc)), "o": num(pc), "pc": num(pc), "t": q.Timestamp.Unix()}
	if f != nil && f.Kind == Partial {
		delete(body, "c")
	}
	reply(w, http.StatusOK, body, f)
}

// finnhubSearch: GET /search?q=Q -> {"count", "result": [{"description",
// "displaySymbol", "symbol", "type"}]}; currency pairs as OANDA:EUR_USD.
func (s *Server) finnhubSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	f := s.call(FinnhubSearch, q)
	if !s.finnhubGate(w, r, f) {
		return
	}
	matches, _ := s.search.Search(r.Context(), q)
	result := []map[string]string{}
	for _, m := range matches {
		if !s.known(m.Symbol) {
			continue
		}
		sym := marketdata.ProviderSymbol(marketdata.SourceFinnhub, m.Symbol)
		entry := map[string]string{"description": m.Description, "displaySymbol": sym, "symbol": sym, "type": m.Type}
		if f != nil && f.Kind == Partial {
			delete(entry, "symbol")
		}
		result = append(result, entry)
	}
	reply(w, http.StatusOK, map[string]any{"count": len(result), "result": result}, f)
}

// finnhubStream is the trade WebSocket: the client subscribes with
// {"type":"subscribe","symbol":S}; every StreamEvery the stub sends one
// {"type":"trade","data":[...]} with a trade of each subscribed symbol (prices
// of the simulator, one simulated second apart), every PingEvery-th message a
// {"type":"ping"} instead. A DropStream fault closes the connection after its
// After trade messages, without a close frame.
func (s *Server) finnhubStream(w http.ResponseWriter, r *http.Request) {
	f := s.call(FinnhubStream, r.URL.Query().Get("token"))
	if s.opts.Key != "" && r.URL.Query().Get("token") != s.opts.Key {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "Invalid API key"}, nil)
		return
	}
	if f != nil && f.Kind == RateLimited {
		tooMany(w, f, map[string]string{"error": "API limit reached"})
		return
	}
	if f != nil && f.Kind == HTMLError {
		html(w)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	subscribed := newSubscriptions()
	go func() {
		defer cancel()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Type, Symbol string }
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			switch m.Type {
			case "subscribe":
				s.mu.Lock()
				s.subs[m.Symbol]++
				s.mu.Unlock()
				subscribed.add(m.Symbol)
			case "unsubscribe":
				subscribed.remove(m.Symbol)
			}
		}
	}()
	clock := s.opts.Now()
	trades, sent := 0, 0
	tick := time.NewTicker(s.opts.StreamEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent++
		if sent%s.opts.PingEvery == 0 {
			if conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)) != nil {
				return
			}
			continue
		}
		clock = clock.Add(time.Second)
		var data []map[string]any
		for _, sym := range subscribed.list() {
			ours := marketdata.FromProviderSymbol(marketdata.SourceFinnhub, sym)
			if !s.known(ours) {
				continue
			}
			q, err := marketdata.SimQuotes{Seed: s.opts.Seed, Now: func() time.Time { return clock }}.Quote(ctx, ours)
			if err != nil {
				continue
			}
			data = append(data, map[string]any{"s": sym, "p": num(q.Price), "t": clock.UnixMilli(), "v": num(q.Volume), "c": []string{"1"}})
		}
		if len(data) == 0 {
			continue
		}
		msg, _ := json.Marshal(map[string]any{"type": "trade", "data": data})
		if conn.Write(ctx, websocket.MessageText, msg) != nil {
			return
		}
		trades++
		if f != nil && f.Kind == DropStream && trades >= max(f.After, 1) {
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
			return // CloseNow: the TCP connection ends without a close frame
		}
	}
}
