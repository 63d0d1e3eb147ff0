package topology

import (
	"fmt"
	"slices"
	"strings"
)

// Market-data sources, as the settings, the secrets' Provider and the CDK
// context name them.
const (
	SimulatedSource    = "simulated"
	FinnhubSource      = "finnhub"
	PolygonSource      = "polygon"
	AlphaVantageSource = "alphavantage"
)

// QuoteSources are the deployable sources of live quotes, HistorySources those
// of daily history (Finnhub's candles are not on its free tier).
var (
	QuoteSources   = []string{SimulatedSource, FinnhubSource, AlphaVantageSource, PolygonSource}
	HistorySources = []string{SimulatedSource, PolygonSource, AlphaVantageSource}
)

// The settings through which a function learns the chosen sources; both stacks
// set them from their Sources (Sources.For).
const (
	PriceSourceEnvVar   = "PRICE_SOURCE"
	HistorySourceEnvVar = "HISTORY_SOURCE"
)

// PriceSourceSetting is the setting of a function that uses the quote source,
// HistorySourceSetting of one that uses the history source; such a function
// also lists the key of every provider the source may be (ProviderKeys).
var (
	PriceSourceSetting = Setting{Name: PriceSourceEnvVar, Default: SimulatedSource, SetBy: BothStacks,
		Meaning: "the quote source, " + strings.Join(QuoteSources, ", ") + ": the deployment's choice (CDK context quoteSource)"}
	HistorySourceSetting = Setting{Name: HistorySourceEnvVar, Default: SimulatedSource, SetBy: BothStacks,
		Meaning: "the daily-history source, " + strings.Join(HistorySources, ", ") + ": the deployment's choice (CDK context historySource)"}
)

// ProviderURLSettings point a function at a provider's base URL instead of the
// provider's own (a stub's, in tests and local runs); every function that may
// talk to a provider declares them.
var ProviderURLSettings = []Setting{
	{Name: "FINNHUB_BASE_URL", Meaning: "Finnhub's REST base URL (a stub's, in tests); Finnhub's own when unset"},
	{Name: "POLYGON_BASE_URL", Meaning: "Polygon's REST base URL (a stub's, in tests); Polygon's own when unset"},
	{Name: "ALPHAVANTAGE_BASE_URL", Meaning: "Alpha Vantage's base URL (a stub's, in tests); Alpha Vantage's own when unset"},
}

// Sources is a deployment's choice of market-data sources: the CDK context on
// AWS, the local stack's configuration on a laptop. It decides which functions
// exist (Enables), the values of the source settings and which provider keys a
// function is given (For).
type Sources struct {
	Quotes, History string
}

// Validate refuses a source that cannot be deployed for its role.
func (s Sources) Validate() error {
	if !slices.Contains(QuoteSources, s.Quotes) {
		return fmt.Errorf("quote source %q: want one of %s", s.Quotes, strings.Join(QuoteSources, ", "))
	}
	if !slices.Contains(HistorySources, s.History) {
		return fmt.Errorf("history source %q: want one of %s", s.History, strings.Join(HistorySources, ", "))
	}
	return nil
}

// Simulated lists the roles ("quotes", "history") that s leaves to the
// simulated feed.
func (s Sources) Simulated() []string {
	var out []string
	if s.Quotes == SimulatedSource {
		out = append(out, "quotes")
	}
	if s.History == SimulatedSource {
		out = append(out, "history")
	}
	return out
}

// Enables says whether a function declared with When: feature is deployed
// under s; "" always is.
func (s Sources) Enables(feature Feature) bool {
	switch feature {
	case "":
		return true
	case StreamingQuotes:
		return s.Quotes == FinnhubSource
	}
	return false
}

// Deployed is the functions deployed under s: those whose feature s enables,
// each For(s).
func (s Sources) Deployed(functions []Function) []Function {
	var out []Function
	for _, f := range functions {
		if s.Enables(f.When) {
			out = append(out, s.For(f))
		}
	}
	return out
}

// For is f as deployed under s. Its source settings (PRICE_SOURCE,
// HISTORY_SOURCE) take the chosen sources as the value both stacks give, and
// of the provider keys it lists it keeps those of the providers it uses: the
// quote source's when it reads PRICE_SOURCE or exists for a quote stream, the
// history source's when it reads HISTORY_SOURCE. A function thus declares every
// key it could use, and a deployment grants only what its choice needs.
func (s Sources) For(f Function) Function {
	uses := map[string]bool{}
	settings := slices.Clone(f.Settings)
	for i, set := range settings {
		switch set.Name {
		case PriceSourceEnvVar:
			settings[i].Value, settings[i].SetBy = s.Quotes, BothStacks
			uses[s.Quotes] = true
		case HistorySourceEnvVar:
			settings[i].Value, settings[i].SetBy = s.History, BothStacks
			uses[s.History] = true
		}
	}
	if f.When == StreamingQuotes {
		uses[s.Quotes] = true
	}
	var secrets []string
	for _, name := range f.Secrets {
		if sec, ok := SecretByName(name); !ok || sec.Provider == "" || uses[sec.Provider] {
			secrets = append(secrets, name)
		}
	}
	f.Settings, f.Secrets = settings, secrets
	return f
}
