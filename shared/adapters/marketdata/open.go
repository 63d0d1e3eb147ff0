package marketdata

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Selection names the providers chosen at deploy time: Quotes is the quote
// source (simulated, finnhub, alphavantage, polygon, or replay for local runs),
// History the source of daily bars and corporate actions (simulated, polygon,
// alphavantage). Empty means simulated.
type Selection struct {
	Quotes, History string
}

// KeyFunc returns provider's API key, "" when none is configured. An error means
// the key could not be read (its secret store is down), not that there is none.
type KeyFunc func(ctx context.Context, provider string) (string, error)

// OpenOptions are what Open needs besides the selection.
type OpenOptions struct {
	Keys KeyFunc
	// BaseURLs maps a provider name to a base URL (a stub's); absent or empty is
	// the provider's own.
	BaseURLs map[string]string
	// StreamURL is the Finnhub WebSocket's URL for Sources.Stream (empty:
	// DefaultFinnhubStreamURL).
	StreamURL  string
	Limiter    Limiter
	Seed       uint64 // the simulated sources' seed
	HTTPClient *http.Client
	Now        func() time.Time
	// ReplayFile is the recorded session the replay quote source plays.
	ReplayFile string
}

// Sources are the opened providers. Search is the quote source's symbol search
// when it has one (replay has not), else the history source's; Actions come from
// the history source. Stream is Finnhub's trade stream when the quote source is
// a keyed Finnhub, else nil. Warnings say which chosen provider fell back to the
// simulated one for want of a key; the caller logs them at ERROR every
// invocation, since a deployment without keys shows invented prices.
type Sources struct {
	Quotes        QuoteProvider
	Bars          BarProvider
	Search        SymbolSearcher
	Actions       CorporateActionProvider
	Stream        *FinnhubStream
	QuoteSource   string
	HistorySource string
	Warnings      []string
}

// Open builds the selected providers. An unknown name is an error, and so is a
// key that cannot be read; a provider without a key falls back to the simulated
// one with a warning.
func Open(ctx context.Context, sel Selection, opts OpenOptions) (Sources, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Keys = onceEach(opts.Keys)
	var src Sources
	quoteName, err := src.keyedChoice(ctx, "quote", sel.Quotes, opts, SourceFinnhub, SourceAlphaVantage, SourcePolygon, SourceReplay)
	if err != nil {
		return Sources{}, err
	}
	historyName, err := src.keyedChoice(ctx, "history", sel.History, opts, SourceAlphaVantage, SourcePolygon)
	if err != nil {
		return Sources{}, err
	}
	src.QuoteSource, src.HistorySource = quoteName, historyName
	clients := map[string]any{}
	client := func(name string) (any, error) {
		if c, ok := clients[name]; ok {
			return c, nil
		}
		c, err := openProvider(ctx, name, opts)
		if err == nil {
			clients[name] = c
		}
		return c, err
	}
	q, err := client(quoteName)
	if err != nil {
		return Sources{}, err
	}
	h, err := client(historyName)
	if err != nil {
		return Sources{}, err
	}
	src.Quotes = q.(QuoteProvider)
	src.Bars = h.(BarProvider)
	src.Actions = h.(CorporateActionProvider)
	if s, ok := q.(SymbolSearcher); ok {
		src.Search = s
	} else {
		src.Search = h.(SymbolSearcher)
	}
	if quoteName == SourceFinnhub {
		key, _ := opts.Keys(ctx, SourceFinnhub) // read (and memoised) above: finnhub is kept only with a key
		src.Stream = NewFinnhubStream(FinnhubStreamOptions{URL: opts.StreamURL, Token: key, HTTPClient: opts.HTTPClient, Now: opts.Now})
	}
	return src, nil
}

// keyedChoice checks a chosen name against the allowed ones and falls back to
// simulated (with a warning) when a keyed provider has no key.
func (s *Sources) keyedChoice(ctx context.Context, role, name string, opts OpenOptions, allowed ...string) (string, error) {
	if name == "" || name == SourceSimulated {
		return SourceSimulated, nil
	}
	known := false
	for _, a := range allowed {
		known = known || a == name
	}
	if !known {
		return "", fmt.Errorf("marketdata: %q is not a %s source (simulated, %v)", name, role, allowed)
	}
	if name == SourceReplay {
		return name, nil
	}
	key, err := readKey(ctx, opts, name)
	if err != nil {
		return "", err
	}
	if key == "" {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s source %s has no API key: using the simulated source instead (prices are invented)", role, name))
		return SourceSimulated, nil
	}
	return name, nil
}

func readKey(ctx context.Context, opts OpenOptions, provider string) (string, error) {
	if opts.Keys == nil {
		return "", nil
	}
	key, err := opts.Keys(ctx, provider)
	if err != nil {
		// The key store's error may quote what it read: never let a key through.
		return "", fmt.Errorf("marketdata: reading the %s API key: %s", provider, redact(err.Error(), key))
	}
	return key, nil
}

// openProvider builds one provider's client (every interface it implements).
func openProvider(ctx context.Context, name string, opts OpenOptions) (any, error) {
	switch name {
	case SourceSimulated:
		return simulated{SimQuotes{Seed: opts.Seed, Now: opts.Now}, SimBars{Seed: opts.Seed, Now: opts.Now}, SimSearch{}, SimActions{}}, nil
	case SourceReplay:
		if opts.ReplayFile == "" {
			return nil, fmt.Errorf("marketdata: the replay source needs a recorded session file (REPLAY_FILE)")
		}
		return LoadReplayQuotes(opts.ReplayFile, opts.Now)
	}
	key, err := readKey(ctx, opts, name)
	if err != nil {
		return nil, err
	}
	co := ClientOptions{BaseURL: opts.BaseURLs[name], APIKey: key, HTTPClient: opts.HTTPClient, Limiter: opts.Limiter, Now: opts.Now}
	switch name {
	case SourceFinnhub:
		return NewFinnhub(co), nil
	case SourcePolygon:
		return NewPolygon(co), nil
	case SourceAlphaVantage:
		return NewAlphaVantage(co), nil
	}
	return nil, fmt.Errorf("marketdata: unknown source %q", name)
}

// onceEach memoises keys per provider: a key behind a secret is read once.
func onceEach(keys KeyFunc) KeyFunc {
	if keys == nil {
		return nil
	}
	read := map[string]string{}
	return func(ctx context.Context, provider string) (string, error) {
		if k, ok := read[provider]; ok {
			return k, nil
		}
		k, err := keys(ctx, provider)
		if err == nil {
			read[provider] = k
		}
		return k, err
	}
}

// Every provider plays each role Open gives it.
var (
	_ QuoteProvider           = (*Finnhub)(nil)
	_ SymbolSearcher          = (*Finnhub)(nil)
	_ QuoteProvider           = (*Polygon)(nil)
	_ BarProvider             = (*Polygon)(nil)
	_ SymbolSearcher          = (*Polygon)(nil)
	_ CorporateActionProvider = (*Polygon)(nil)
	_ QuoteProvider           = (*AlphaVantage)(nil)
	_ BarProvider             = (*AlphaVantage)(nil)
	_ SymbolSearcher          = (*AlphaVantage)(nil)
	_ CorporateActionProvider = (*AlphaVantage)(nil)
	_ QuoteProvider           = (*ReplayQuotes)(nil)
	_ QuoteProvider           = simulated{}
	_ BarProvider             = simulated{}
	_ SymbolSearcher          = simulated{}
	_ CorporateActionProvider = simulated{}
)

// simulated is the simulated provider in every role.
type simulated struct {
	SimQuotes
	SimBars
	SimSearch
	SimActions
}

func (simulated) Name() string { return SourceSimulated }
