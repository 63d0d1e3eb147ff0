package marketdata

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

func TestOpenFallsBackWithoutAKey(t *testing.T) {
	keys := func(_ context.Context, provider string) (string, error) {
		if provider == SourceAlphaVantage {
			return "av-key", nil
		}
		return "", nil
	}
	src, err := Open(context.Background(), Selection{Quotes: SourcePolygon, History: SourceAlphaVantage}, OpenOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if src.QuoteSource != SourceSimulated || src.HistorySource != SourceAlphaVantage || len(src.Warnings) != 1 ||
		!strings.Contains(src.Warnings[0], "polygon") || src.Stream != nil {
		t.Fatalf("%+v", src)
	}
	if _, ok := src.Quotes.(simulated); !ok {
		t.Errorf("quotes: %T", src.Quotes)
	}
	if _, ok := src.Bars.(*AlphaVantage); !ok {
		t.Errorf("bars: %T", src.Bars)
	}
	if src.Search.Name() != SourceSimulated || src.Actions.Name() != SourceAlphaVantage {
		t.Errorf("search from the quote source (simulated), actions from the history source: %s, %s", src.Search.Name(), src.Actions.Name())
	}
	src, err = Open(context.Background(), Selection{}, OpenOptions{})
	if err != nil || src.QuoteSource != SourceSimulated || src.HistorySource != SourceSimulated || len(src.Warnings) != 0 {
		t.Fatalf("the empty selection is simulated, silently: %+v %v", src, err)
	}
	src, err = Open(context.Background(), Selection{Quotes: SourceFinnhub, History: SourcePolygon}, OpenOptions{})
	if err != nil || len(src.Warnings) != 2 || src.QuoteSource != SourceSimulated || src.HistorySource != SourceSimulated {
		t.Fatalf("no key function: both fall back: %+v %v", src, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	secretErr := func(context.Context, string) (string, error) {
		return "", errors.New("secrets manager: timeout")
	}
	for _, c := range []struct {
		sel  Selection
		opts OpenOptions
		want string
	}{
		{Selection{Quotes: "yahoo"}, OpenOptions{}, "not a quote source"},
		{Selection{History: SourceFinnhub}, OpenOptions{}, "not a history source"},
		{Selection{History: SourceReplay}, OpenOptions{}, "not a history source"},
		{Selection{Quotes: SourceReplay}, OpenOptions{}, "REPLAY_FILE"},
		{Selection{Quotes: SourceReplay}, OpenOptions{ReplayFile: "/nonexistent/session.csv"}, "no such file"},
		{Selection{Quotes: SourcePolygon}, OpenOptions{Keys: secretErr}, "reading the polygon API key"},
	} {
		if _, err := Open(context.Background(), c.sel, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: want an error with %q, got %v", c.sel, c.want, err)
		}
	}
	leaky := func(context.Context, string) (string, error) { return "sk-123", errors.New("bad secret sk-123") }
	if _, err := Open(context.Background(), Selection{Quotes: SourceFinnhub}, OpenOptions{Keys: leaky}); err == nil || strings.Contains(err.Error(), "sk-123") {
		t.Errorf("the key is redacted from the error: %v", err)
	}
}

func TestOpenReplayTakesSearchFromHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.csv")
	if err := os.WriteFile(path, []byte("timestamp,symbol,price\n1700000000,AAPL,190.00\n1700000030,AAPL,190.50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), Selection{Quotes: SourceReplay}, OpenOptions{ReplayFile: path})
	if err != nil || src.QuoteSource != SourceReplay || src.Search.Name() != SourceSimulated {
		t.Fatalf("%+v %v", src, err)
	}
}

func TestProviderSymbols(t *testing.T) {
	for _, c := range []struct{ provider, ours, theirs string }{
		{SourcePolygon, "EURUSD=X", "C:EURUSD"},
		{SourceFinnhub, "USDJPY=X", "OANDA:USD_JPY"},
		{SourceAlphaVantage, "EURUSD=X", "EURUSD=X"},
		{SourceSimulated, "GBPUSD=X", "GBPUSD=X"},
		{SourcePolygon, "AAPL", "AAPL"},
		{SourceFinnhub, "BRK.B", "BRK.B"},
	} {
		if got := ProviderSymbol(c.provider, c.ours); got != c.theirs {
			t.Errorf("ProviderSymbol(%s, %s) = %s, want %s", c.provider, c.ours, got, c.theirs)
		}
		if got := FromProviderSymbol(c.provider, c.theirs); got != c.ours {
			t.Errorf("FromProviderSymbol(%s, %s) = %s, want %s", c.provider, c.theirs, got, c.ours)
		}
	}
	for _, s := range []string{"C:EUR", "OANDA:EURUSD", "OANDA:EU_USD1", "C:eurusd", "OANDA:EUR_EUR", "BINANCE:BTCUSDT"} {
		if got := FromProviderSymbol(SourceFinnhub, s); got != s {
			t.Errorf("FromProviderSymbol(finnhub, %s) = %s: not a pair, kept", s, got)
		}
		if got := FromProviderSymbol(SourcePolygon, s); got != s {
			t.Errorf("FromProviderSymbol(polygon, %s) = %s: not a pair, kept", s, got)
		}
	}
}

func TestSimulatedRates(t *testing.T) {
	now := func() time.Time { return time.Date(2024, 6, 14, 15, 0, 0, 0, time.UTC) }
	q := SimQuotes{Seed: 1, Now: now}
	ctx := context.Background()
	rate := func(sym string) decimal.Decimal {
		r, err := q.Quote(ctx, sym)
		if err != nil || r.Symbol != sym || r.Validate() != nil {
			t.Fatalf("%s: %+v %v", sym, r, err)
		}
		return r.Price
	}
	for sym, around := range map[string]float64{"EURUSD=X": 1.08, "GBPUSD=X": 1.27, "USDJPY=X": 150, "USDCHF=X": 0.885, "EURGBP=X": 0.85} {
		if got := rate(sym).InexactFloat64(); got < around*0.95 || got > around*1.05 {
			t.Errorf("%s = %v, want about %v", sym, got, around)
		}
	}
	for _, sym := range []string{"EURUSD=X", "USDJPY=X", "GBPCHF=X"} {
		pair, _ := market.ParseFXPair(sym)
		product := rate(sym).Mul(rate(pair.Inverse().Symbol()))
		if product.Sub(decimal.NewFromInt(1)).Abs().GreaterThan(decimal.RequireFromString("0.0001")) {
			t.Errorf("%s × its inverse = %s, want 1", sym, product)
		}
	}
	bars, err := SimBars{Seed: 1, Now: now}.DailyBars(ctx, "USDJPY=X", calendar.MustNew(2024, 5, 1), calendar.MustNew(2024, 6, 13))
	inv, _ := SimBars{Seed: 1, Now: now}.DailyBars(ctx, "JPYUSD=X", calendar.MustNew(2024, 5, 1), calendar.MustNew(2024, 6, 13))
	if err != nil || len(bars) < 20 || len(bars) != len(inv) {
		t.Fatalf("%d bars, %d inverse, %v", len(bars), len(inv), err)
	}
	for i, b := range bars {
		if b.Validate() != nil || b.Symbol != "USDJPY=X" || !b.Volume.IsZero() || b.Close.Mul(inv[i].Close).Sub(decimal.NewFromInt(1)).Abs().GreaterThan(decimal.RequireFromString("0.001")) {
			t.Fatalf("bar %d: %+v against %+v", i, b, inv[i])
		}
	}
}

func TestSimSearchAndActions(t *testing.T) {
	ctx := context.Background()
	for q, first := range map[string]string{"SPY": "SPY", "qqq": "QQQ", "apple": "AAPL", "Vanguard Total": "VTI", "euro": "EURUSD=X", "V": "V"} {
		got, err := SimSearch{}.Search(ctx, q)
		if err != nil || len(got) == 0 || got[0].Symbol != first || got[0].Source != SourceSimulated || len(got) > MaxSearchResults {
			t.Errorf("%q: %+v %v", q, got, err)
		}
	}
	for _, p := range []string{"AAPL", "MSFT", "VTI", "NVDA", "BND", "SPY", "JPM", "GOOGL"} {
		if got, _ := (SimSearch{}).Search(ctx, p); len(got) == 0 || got[0].Symbol != p {
			t.Errorf("the demo's %s is found: %+v", p, got)
		}
	}
	if _, err := (SimSearch{}).Search(ctx, "\x01"); err == nil {
		t.Error("a control character is refused")
	}
	from, to := calendar.MustNew(2023, 12, 1), calendar.MustNew(2026, 12, 1)
	nvda, _ := SimActions{}.CorporateActions(ctx, "NVDA", from, to)
	if len(nvda) != 1 || nvda[0].Kind != market.ActionSplit || nvda[0].Date != calendar.MustNew(2024, 6, 10) || !nvda[0].SplitTo.Equal(decimal.NewFromInt(10)) {
		t.Errorf("NVDA: %+v", nvda)
	}
	aapl, _ := SimActions{}.CorporateActions(ctx, "AAPL", from, to)
	if len(aapl) != 12 {
		t.Errorf("AAPL: %d quarterly dividends in three years, want 12", len(aapl))
	}
	for _, a := range aapl {
		if a.Validate() != nil || a.Date.Time().Weekday() == time.Saturday || a.Date.Time().Weekday() == time.Sunday || a.PayDate == nil || !a.PayDate.After(a.Date) {
			t.Errorf("%+v", a)
		}
	}
	if none, err := (SimActions{}).CorporateActions(ctx, "EURUSD=X", from, to); err != nil || none == nil || len(none) != 0 {
		t.Errorf("a pair has none: %v %v", none, err)
	}
}

// The replay loops: the same instant gives the same quote, every quote is
// at or before now, and a symbol the session lacks is not found.
func TestReplayQuotesLoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.csv")
	body := "timestamp,symbol,price,volume\n" +
		"2024-03-01T14:30:00Z,AAPL,190.00,10\n2024-03-01T14:30:20Z,MSFT,410.00,5\n2024-03-01T14:30:40Z,AAPL,190.40,7\n2024-03-01T14:31:00Z,MSFT,410.50,1\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var now time.Time
	r, err := LoadReplayQuotes(path, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Symbols(); len(got) != 2 {
		t.Fatalf("symbols %v", got)
	}
	// The loop is 61 s long, aligned to the epoch.
	base := time.Unix(61*28_000_000, 0).UTC()
	for _, c := range []struct {
		offset time.Duration
		symbol string
		price  string
		age    time.Duration
	}{
		{0, "AAPL", "190.00", 0},
		{39 * time.Second, "AAPL", "190.00", 39 * time.Second},
		{40 * time.Second, "AAPL", "190.40", 0},
		{10 * time.Second, "MSFT", "410.50", 11 * time.Second}, // before MSFT's first tick: the last one of the previous loop
		{60 * time.Second, "MSFT", "410.50", 0},
		{61*time.Second + 40*time.Second, "AAPL", "190.40", 0},
	} {
		now = base.Add(c.offset)
		q, err := r.Quote(context.Background(), c.symbol)
		if err != nil || q.Price.String() != decimal.RequireFromString(c.price).String() || !q.Timestamp.Equal(now.Add(-c.age)) || q.Source != SourceReplay || q.Validate() != nil {
			t.Errorf("+%s %s: %+v %v, want %s aged %s", c.offset, c.symbol, q, err, c.price, c.age)
		}
	}
	_, err = r.Quote(context.Background(), "TSLA")
	var e *MarketDataError
	if !errors.As(err, &e) || e.Kind != KindNotFound {
		t.Errorf("TSLA: %v", err)
	}
}
