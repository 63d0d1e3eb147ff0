// Package providerstub is a local stand-in for the market-data providers, for
// tests and local runs: one HTTP server that speaks Finnhub's REST API and
// trade WebSocket, Polygon's REST API and Alpha Vantage's query endpoint in
// their documented formats, with deterministic data taken from the simulator's
// series (marketdata.SimQuotes, SimBars, SimSearch, SimActions), so a quote, a
// bar and a close agree across providers. Faults are scripted per endpoint and
// symbol (Fault): 429 with Retry-After, Alpha Vantage's 200 with a "Note", HTML
// error pages, missing fields, truncated bodies, a next_url page that fails, a
// NOT_AUTHORIZED snapshot, a WebSocket that drops after N messages; symbols in
// Options.Unknown answer as each provider answers an unknown symbol. Every call
// is counted per endpoint (Calls), so a test can assert how often a client
// asked.
//
//	stub := providerstub.Start(providerstub.Options{Now: clock})
//	defer stub.Close()
//	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonSnapshot, Kind: providerstub.Unauthorized})
//	client := marketdata.NewPolygon(marketdata.ClientOptions{BaseURL: stub.PolygonURL, APIKey: "k"})
//
// The base URLs (FinnhubURL, FinnhubStreamURL, PolygonURL, AlphaVantageURL) are
// what FINNHUB_BASE_URL, FINNHUB_STREAM_URL, POLYGON_BASE_URL and
// ALPHAVANTAGE_BASE_URL take.
package providerstub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
)

// The endpoints, as counted by Calls and targeted by a Fault.
const (
	FinnhubQuote  = "finnhub/quote"
	FinnhubSearch = "finnhub/search"
	FinnhubStream = "finnhub/stream" // one call per WebSocket connection

	PolygonSnapshot  = "polygon/snapshot"
	PolygonPrev      = "polygon/prev"
	PolygonAggs      = "polygon/aggs" // one call per page
	PolygonTickers   = "polygon/tickers"
	PolygonSplits    = "polygon/splits"
	PolygonDividends = "polygon/dividends"

	AlphaVantageQuote   = "alphavantage/GLOBAL_QUOTE"
	AlphaVantageDaily   = "alphavantage/TIME_SERIES_DAILY"
	AlphaVantageSearch  = "alphavantage/SYMBOL_SEARCH"
	AlphaVantageFXRate  = "alphavantage/CURRENCY_EXCHANGE_RATE"
	AlphaVantageFXDaily = "alphavantage/FX_DAILY"
)

// FaultKind is what a scripted fault does.
type FaultKind int

// The faults. Each answers as the provider does, or as a proxy in front of it.
const (
	// RateLimited answers 429 with Retry-After (Fault.RetryAfter, default 1 s)
	// and the provider's message; on Alpha Vantage, HTTP 200 with a "Note".
	RateLimited FaultKind = iota + 1
	// HTMLError answers 502 with an nginx HTML page.
	HTMLError
	// Partial leaves out a required field: Finnhub's "c", a Polygon bar's "c", an
	// Alpha Vantage day's "4. close" or rate's "5. Exchange Rate", search
	// results' symbols.
	Partial
	// Truncated cuts the JSON body in half.
	Truncated
	// FailingNextPage (Polygon aggregates, splits, dividends) splits the answer
	// into two pages whose next_url answers 502.
	FailingNextPage
	// Unauthorized answers as a plan without the endpoint: Polygon's 403
	// NOT_AUTHORIZED (the snapshot on free plans), Finnhub's 403 "You don't have
	// access to this resource.", Alpha Vantage's premium-endpoint "Information".
	Unauthorized
	// DropStream (FinnhubStream) closes the WebSocket without a close frame
	// after Fault.After trade messages, a ping sent just before.
	DropStream
)

// Fault is a scripted failure of Endpoint (one of the constants above) for
// Symbol (ours, "EURUSD=X", or the provider's; a search's query; "" for any),
// for the next Times matching calls (0: every one).
type Fault struct {
	Endpoint   string
	Symbol     string
	Kind       FaultKind
	Times      int
	RetryAfter time.Duration // RateLimited
	After      int           // DropStream: trade messages before the drop (at least 1)
}

// Options configure a Server; every field has a default.
type Options struct {
	// Seed and Now are the simulated data's (defaults 1 and time.Now).
	Seed uint64
	Now  func() time.Time
	// Key, when set, must accompany every call (Finnhub's token, Polygon's
	// Bearer or apiKey, Alpha Vantage's apikey); a call without it is refused
	// with the provider's 401 (Alpha Vantage: an "Error Message").
	Key string
	// Unknown are the symbols the providers do not know.
	Unknown []string
	// PageSize, when positive, splits Polygon aggregates, splits and dividends
	// into pages of that many results linked by next_url, and caps a ticker
	// search's page (with a next_url when more match).
	PageSize int
	// StreamEvery is the pause between two trade messages on the WebSocket
	// (default 10 ms); every PingEvery-th message (default 5) is a ping.
	StreamEvery time.Duration
	PingEvery   int
	// Faults are scripted from the start (Script adds more).
	Faults []Fault
}

// Server is a running stub. Close it when done.
type Server struct {
	URL              string // the server's root
	FinnhubURL       string // Finnhub's REST base (…/finnhub/api/v1)
	FinnhubStreamURL string // Finnhub's WebSocket (ws://…/finnhub/ws)
	PolygonURL       string // Polygon's base (…/polygon)
	AlphaVantageURL  string // Alpha Vantage's query endpoint (…/alphavantage/query)

	opts    Options
	quotes  marketdata.SimQuotes
	bars    marketdata.SimBars
	search  marketdata.SimSearch
	actions marketdata.SimActions
	unknown map[string]bool
	http    *httptest.Server

	mu     sync.Mutex
	faults []*scripted
	calls  map[string]int
	subs   map[string]int // WebSocket subscribe messages per symbol
}

type scripted struct {
	Fault
	used int
}

// Start runs a stub on a free local port.
func Start(opts Options) *Server {
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StreamEvery <= 0 {
		opts.StreamEvery = 10 * time.Millisecond
	}
	if opts.PingEvery <= 0 {
		opts.PingEvery = 5
	}
	s := &Server{opts: opts, quotes: marketdata.SimQuotes{Seed: opts.Seed, Now: opts.Now},
		bars: marketdata.SimBars{Seed: opts.Seed, Now: opts.Now}, unknown: map[string]bool{},
		calls: map[string]int{}, subs: map[string]int{}}
	for _, u := range opts.Unknown {
		s.unknown[u] = true
	}
	s.Script(opts.Faults...)
	mux := http.NewServeMux()
	mux.HandleFunc("/finnhub/api/v1/quote", s.finnhubQuote)
	mux.HandleFunc("/finnhub/api/v1/search", s.finnhubSearch)
	mux.HandleFunc("/finnhub/ws", s.finnhubStream)
	mux.HandleFunc("/polygon/", s.polygon)
	mux.HandleFunc("/alphavantage/query", s.alphaVantage)
	s.http = httptest.NewServer(mux)
	s.URL = s.http.URL
	s.FinnhubURL = s.URL + "/finnhub/api/v1"
	s.FinnhubStreamURL = "ws" + strings.TrimPrefix(s.URL, "http") + "/finnhub/ws"
	s.PolygonURL = s.URL + "/polygon"
	s.AlphaVantageURL = s.URL + "/alphavantage/query"
	return s
}

// Close stops the server and closes its connections (WebSockets included).
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// BaseURLs are the stub's base URLs by provider name, as
// marketdata.OpenOptions.BaseURLs takes them (StreamURL is FinnhubStreamURL).
func (s *Server) BaseURLs() map[string]string {
	return map[string]string{marketdata.SourceFinnhub: s.FinnhubURL, marketdata.SourcePolygon: s.PolygonURL,
		marketdata.SourceAlphaVantage: s.AlphaVantageURL}
}

// Script adds faults; they apply from the next call on.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		s.faults = append(s.faults, &scripted{Fault: f})
	}
}

// ClearFaults removes every scripted fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls is how many calls endpoint has had (faulted ones included).
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// TotalCalls is the sum of Calls over every endpoint.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Subscriptions is how many WebSocket subscribe messages named symbol (as the
// client sent it: "OANDA:EUR_USD" for a pair).
func (s *Server) Subscriptions(symbol string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[symbol]
}

// call counts one call of endpoint for symbols (ours or the provider's; any
// may match a fault) and returns the fault to play, if any.
func (s *Server) call(endpoint string, symbols ...string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[endpoint]++
	for _, f := range s.faults {
		if f.Endpoint != endpoint || (f.Times > 0 && f.used >= f.Times) {
			continue
		}
		match := f.Symbol == ""
		for _, sym := range symbols {
			match = match || f.Symbol == sym
		}
		if match {
			f.used++
			fault := f.Fault
			return &fault
		}
	}
	return nil
}

func (s *Server) known(symbol string) bool { return symbol != "" && !s.unknown[symbol] }
