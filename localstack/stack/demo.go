package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// DemoUser is one of the demo's users.
type DemoUser struct {
	Name, UserID, PortfolioID string
}

// demoPlan is what each demo user holds: a deposit in the portfolio's base
// currency, conversions of part of it into other currencies, then buys spread
// over the years (each in its symbol's trading currency, demoCurrencies), a
// dividend, a sale, and target weights.
type demoPlan struct {
	user, portfolio string
	base            string // "" is USD
	deposit         string
	conversions     []demoConversion
	buys            []demoBuy
	targets         map[string]string
}

type demoBuy struct {
	symbol   string
	quantity string
	monthsIn int // months after the start
}

// demoConversion converts amount of the base into currency at the start.
type demoConversion struct {
	currency, amount string
}

var demoPlans = []demoPlan{
	{user: "alice", portfolio: "Alice's growth", deposit: "60000",
		buys: []demoBuy{{"AAPL", "40", 0}, {"MSFT", "15", 1}, {"VTI", "30", 2}, {"NVDA", "6", 6}, {"AAPL", "20", 12},
			{"VTI", "25", 18}, {"MSFT", "10", 24}, {"BND", "80", 30}},
		targets: map[string]string{"AAPL": "0.30", "MSFT": "0.25", "VTI": "0.25", "NVDA": "0.10", "BND": "0.10"}},
	{user: "bob", portfolio: "Bob's balanced", deposit: "40000",
		buys: []demoBuy{{"SPY", "20", 0}, {"BND", "150", 0}, {"JPM", "25", 4}, {"SPY", "10", 14}, {"GOOGL", "30", 20},
			{"BND", "60", 28}},
		targets: map[string]string{"SPY": "0.45", "BND": "0.35", "JPM": "0.10", "GOOGL": "0.10"}},
	// A European investor: euros in, US shares in dollars and a London ETF in
	// pence, a dollar dividend; every figure shown in euros.
	{user: "carla", portfolio: "Carla's world (EUR)", base: "EUR", deposit: "50000",
		conversions: []demoConversion{{"USD", "20000"}, {"GBP", "17000"}},
		buys:        []demoBuy{{"AAPL", "30", 0}, {"VUSA.L", "100", 1}, {"AAPL", "15", 12}, {"VUSA.L", "50", 18}},
		targets:     map[string]string{"AAPL": "0.40", "VUSA.L": "0.60"}},
}

// demoCurrencies are the trading currencies of the demo's symbols that do not
// trade in dollars: London listings are quoted in pence.
var demoCurrencies = map[string]string{"VUSA.L": "GBp"}

func demoCurrency(symbol string) string {
	if c, ok := demoCurrencies[symbol]; ok {
		return c
	}
	return "USD"
}

// demoFee is a broker's fee of one unit of the trade's currency: 100 in a quote
// unit (a pound is 100 pence), every amount of a GBp trade being in pence.
func demoFee(code string) string {
	if currency.IsQuoteUnit(code) {
		return "100"
	}
	return "1.00"
}

func (p demoPlan) baseCurrency() string {
	if p.base == "" {
		return "USD"
	}
	return p.base
}

// currencies are every currency the plan records a transaction in besides
// its base (settlement currencies: GBP for GBp).
func (p demoPlan) currencies() []string {
	var out []string
	add := func(code string) {
		if settle, _ := currency.Settlement(code); settle != p.baseCurrency() && !slices.Contains(out, settle) {
			out = append(out, settle)
		}
	}
	for _, c := range p.conversions {
		add(c.currency)
	}
	for _, b := range p.buys {
		add(demoCurrency(b.symbol))
	}
	return out
}

const demoYears = 3

// SeedDemo creates the demo's users, portfolios, three years of trades at the
// simulated closes, targets and a price alert, through the public HTTP API as a
// frontend would. Every command carries an Idempotency-Key, so a demo
// interrupted half-way completes on the next start without duplicates; a marker
// file skips it afterwards.
func (s *Stack) SeedDemo(ctx context.Context) ([]DemoUser, error) {
	marker := filepath.Join(s.cfg.DataDir, "demo.json")
	// A data directory seeded by an older demo (fewer users) gets the missing
	// users only: re-posting the others' trades, dated from today, under their
	// old Idempotency-Keys would be refused as a different request.
	seeded := map[string]DemoUser{}
	if raw, err := os.ReadFile(marker); err == nil {
		var users []DemoUser
		if json.Unmarshal(raw, &users) == nil {
			if len(users) == len(demoPlans) {
				return users, nil
			}
			for _, u := range users {
				seeded[u.Name] = u
			}
		}
	}
	db, err := pgx.Connect(ctx, s.URLs.Postgres)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer db.Close(context.Background())

	today := calendar.FromTime(time.Now().UTC())
	start := today.AddDays(-365 * demoYears)
	var symbols []string
	add := func(sym string) {
		if !slices.Contains(symbols, sym) {
			symbols = append(symbols, sym)
		}
	}
	for _, p := range demoPlans {
		for _, b := range p.buys {
			add(b.symbol)
		}
		// The pairs that price the plan's currencies: its foreign
		// transactions' rates are their closes.
		for _, c := range append(p.currencies(), p.baseCurrency()) {
			if pair, ok := market.USDPair(c); ok {
				add(pair.Symbol())
			}
		}
	}
	// Price history first: the trades are made at these closes, their rates
	// are the pairs' closes, and analytics needs them.
	if err := s.demoHistory(ctx, db, symbols, start); err != nil {
		return nil, err
	}

	var users []DemoUser
	for _, p := range demoPlans {
		if u, ok := seeded[p.user]; ok {
			users = append(users, u)
			continue
		}
		// The user is in auth.users already (seedAuthUsers, at start).
		userID, token := s.Mint(p.user, time.Hour)
		api := demoClient{base: s.URLs.HTTP, token: token}
		id, err := seedDemoPortfolio(ctx, db, api, p, start, today)
		if err != nil {
			return nil, err
		}
		users = append(users, DemoUser{Name: p.user, UserID: userID, PortfolioID: id})
	}

	// The alert: the simulated AAPL a percent above the threshold, so the first
	// ticks fire it (once: hysteresis keeps it quiet while the price wanders).
	if _, err := s.rt.Invoke(ctx, "ingest", []byte(`{"mode":"quotes"}`)); err != nil {
		return nil, fmt.Errorf("demo: first quotes: %w", err)
	}
	var last decimal.Decimal
	if err := db.QueryRow(ctx, `select price from latest_prices where symbol = 'AAPL'`).Scan(&last); err != nil {
		// The first quotes are still on their way through Kinesis: use the simulator's
		// start price instead (the walk stays within a percent or two in a day).
		last = decimal.RequireFromString("190")
	}
	_, token := s.Mint(users[0].Name, time.Hour)
	alice := demoClient{base: s.URLs.HTTP, token: token}
	threshold := last.Mul(decimal.RequireFromString("0.99")).Round(2)
	if err := alice.do(ctx, "POST", "/alerts", "", map[string]any{"id": "demo-aapl-above", "kind": "price_above", "symbol": "AAPL",
		"threshold": threshold.String(), "cooldown": "1h"}, nil); err != nil && !isConflict(err) {
		return nil, err
	}
	raw, _ := json.MarshalIndent(users, "", "  ")
	if err := os.WriteFile(marker, raw, 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return users, nil
}

// seedDemoPortfolio creates p's portfolio and records its history through the
// API: the deposit, the conversions, the buys, a dividend and a partial sale
// of the first holding a year before today, and the targets. Each transaction
// in another currency than the base carries its rate (fxRate), the pairs'
// closes of its date, as a broker's statement would.
func seedDemoPortfolio(ctx context.Context, db *pgx.Conn, api demoClient, p demoPlan, start, today calendar.Date) (string, error) {
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	base := p.baseCurrency()
	if err := api.do(ctx, "POST", "/portfolios", "demo-portfolio", map[string]any{"name": p.portfolio, "baseCurrency": base}, &created); err != nil {
		return "", err
	}
	if created.Data.ID == "" {
		return "", fmt.Errorf("demo: portfolio of %s: no id in the answer", p.user)
	}
	txs := "/portfolios/" + created.Data.ID + "/transactions"
	// record posts tx in code at the rate of its date into the base.
	record := func(key string, tx map[string]any, code string, day calendar.Date) error {
		tx["currency"] = code
		if settle, _ := currency.Settlement(code); settle != base {
			rate, err := demoRate(ctx, db, settle, base, day)
			if err != nil {
				return err
			}
			tx["fxRate"] = rate.String()
		}
		return api.do(ctx, "POST", txs, key, tx, nil)
	}
	if err := record("demo-deposit", map[string]any{"type": "DEPOSIT", "date": start.String(), "amount": p.deposit}, base, start); err != nil {
		return "", err
	}
	for i, c := range p.conversions {
		// Into c.currency at the rate of the start, to the cent.
		rate, err := demoRate(ctx, db, base, c.currency, start)
		if err != nil {
			return "", err
		}
		in := decimal.RequireFromString(c.amount).Mul(rate).Round(2)
		tx := map[string]any{"type": "CONVERSION", "date": start.String(), "amount": c.amount, "toAmount": in.String(), "toCurrency": c.currency}
		if err := record(fmt.Sprintf("demo-conversion-%d", i), tx, base, start); err != nil {
			return "", err
		}
	}
	for i, b := range p.buys {
		day, price, err := closeOn(ctx, db, b.symbol, start.AddDays(b.monthsIn*365/12))
		if err != nil {
			return "", err
		}
		tx := map[string]any{"type": "BUY", "date": day.String(), "symbol": b.symbol, "quantity": b.quantity, "price": price.String(), "fee": demoFee(demoCurrency(b.symbol))}
		if err := record(fmt.Sprintf("demo-buy-%d", i), tx, demoCurrency(b.symbol), day); err != nil {
			return "", err
		}
	}
	// A dividend and a partial sale of the first holding, a year before today.
	first := p.buys[0]
	code := demoCurrency(first.symbol)
	day, price, err := closeOn(ctx, db, first.symbol, today.AddDays(-365))
	if err != nil {
		return "", err
	}
	if err := record("demo-dividend", map[string]any{"type": "DIVIDEND", "date": day.String(), "symbol": first.symbol, "amount": "42.50"}, code, day); err != nil {
		return "", err
	}
	quarter := decimal.RequireFromString(first.quantity).Div(decimal.NewFromInt(4)).Floor()
	if err := record("demo-sell", map[string]any{"type": "SELL", "date": day.String(), "symbol": first.symbol,
		"quantity": quarter.String(), "price": price.String(), "fee": demoFee(code)}, code, day); err != nil {
		return "", err
	}
	var targets []map[string]string
	for sym, w := range p.targets {
		targets = append(targets, map[string]string{"symbol": sym, "weight": w})
	}
	if err := api.do(ctx, "PUT", "/portfolios/"+created.Data.ID+"/targets", "demo-targets", map[string]any{"targets": targets, "driftBand": "0.05"}, nil); err != nil {
		return "", err
	}
	return created.Data.ID, nil
}

// demoRate is the price of one from in to on day: each currency's value in
// dollars is its USD pair's last close on or before day (market.USDPair), and
// the rate their quotient, to portfolio.FXRateDigits places.
func demoRate(ctx context.Context, db *pgx.Conn, from, to string, day calendar.Date) (decimal.Decimal, error) {
	inUSD := func(code string) (decimal.Decimal, error) {
		pair, ok := market.USDPair(code)
		if !ok {
			return decimal.NewFromInt(1), nil
		}
		var v decimal.Decimal
		err := db.QueryRow(ctx, `select close from daily_closes where symbol = $1 and day <= $2::date order by day desc limit 1`,
			pair.Symbol(), day.String()).Scan(&v)
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("demo: rate of %s on %s (%s): %w", code, day, pair.Symbol(), err)
		}
		return v, nil
	}
	f, err := inUSD(from)
	if err != nil {
		return decimal.Decimal{}, err
	}
	t, err := inUSD(to)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return f.DivRound(t, portfolio.FXRateDigits), nil
}

// demoHistoryWait bounds the wait for the demo's history: instant from the
// simulated source, minutes from a real one (PT_LOCAL_HISTORY_SOURCE) within
// its rate limit (Polygon's free plan: 5 calls a minute).
const demoHistoryWait = 30 * time.Minute

// demoHistory fills the daily closes of symbols from start through the backfill
// function, as an operator would ({"symbol":"AAPL","from":"2024-01-01"}), then
// runs it until every symbol is complete (a run ends at the provider's limit;
// the next resumes), and fails on a symbol the provider could not fill.
func (s *Stack) demoHistory(ctx context.Context, db *pgx.Conn, symbols []string, start calendar.Date) error {
	for _, sym := range symbols {
		if err := s.invokeBackfill(ctx, fmt.Sprintf(`{"symbol":%q,"from":%q}`, sym, start.String())); err != nil {
			return fmt.Errorf("demo: backfill %s: %w", sym, err)
		}
	}
	history := readmodel.NewSymbolHistory(db)
	deadline := time.Now().Add(demoHistoryWait)
	for {
		status, err := history.Status(ctx, symbols)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		var missing []string
		for _, sym := range symbols {
			switch st := status[sym]; st.State {
			case market.HistoryComplete:
			case market.HistoryFailed:
				return fmt.Errorf("demo: the history of %s failed: %s", sym, st.Reason)
			default:
				missing = append(missing, sym)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the history of %v not complete after %s", missing, demoHistoryWait)
		}
		s.log.Info("demo: waiting for the history of the demo's symbols", "missing", missing)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if err := s.invokeBackfill(ctx, `{"mode":"scheduled"}`); err != nil {
			return fmt.Errorf("demo: backfill: %w", err)
		}
	}
}

// invokeBackfill invokes the backfill function with in, waiting for a run the
// stack's own schedule holds (the backfill runs one at a time) to end.
func (s *Stack) invokeBackfill(ctx context.Context, in string) error {
	for {
		_, err := s.rt.Invoke(ctx, "backfill", []byte(in))
		if !errors.Is(err, invoke.ErrThrottled) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// closeOn returns the first close on or after day.
func closeOn(ctx context.Context, db *pgx.Conn, symbol string, day calendar.Date) (calendar.Date, decimal.Decimal, error) {
	var d time.Time
	var c decimal.Decimal
	err := db.QueryRow(ctx, `select day, close from daily_closes where symbol = $1 and day >= $2::date order by day limit 1`,
		symbol, day.String()).Scan(&d, &c)
	if err != nil {
		return 0, decimal.Decimal{}, fmt.Errorf("demo: close of %s on %s: %w", symbol, day, err)
	}
	return calendar.FromTime(d), c, nil
}

type demoClient struct{ base, token string }

type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func isConflict(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == http.StatusConflict
}

func (c demoClient) do(ctx context.Context, method, path, key string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("demo: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("demo: %s %s: %w", method, path, &apiError{resp.StatusCode, string(data)})
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
