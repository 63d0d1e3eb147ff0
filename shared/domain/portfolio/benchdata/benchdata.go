// Package benchdata generates a deterministic, valid portfolio history for
// benchmarks and load tests: activities (in our activity JSON, see package
// activities) and daily closes (a prices CSV "date,symbol,close").
//
// The same Config always yields byte-identical files. The history is valid: a sell
// never exceeds the holding, every activity passes portfolio.Transaction.Validate,
// and every traded symbol has a close on every weekday. It has what a real history
// has — fees, some taxes, withheld dividend tax, interest, deposits and withdrawals,
// a few forward splits (with closes that drop on the split day, as unadjusted closes
// do), back-dated entries appended out of date order, and a few VOIDs.
//
// All arithmetic is integer (cents, thousandths of a share): no float64 touches a
// number that ends up in a file.
package benchdata

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// Config sizes the data set.
type Config struct {
	Seed       uint64
	Activities int // total records in the activities file, VOIDs included
	Symbols    int
	Start      calendar.Date // first day (closes start here)
	Years      int
	Currency   string
	Splits     int // forward splits (2:1, 3:1 or 4:1)
	Voids      int // VOIDs, each cancelling a FEE or INTEREST
	// BackDatedPermille of the cash-only activities (dividends, fees, interest) are
	// moved to the end of the file, so the file is not in date order.
	BackDatedPermille int
	// Foreign are up to two other currencies (ISO codes, or GBp for a London
	// listing in pence). With them, symbol i trades in Foreign[0] when i%6 == 1 and
	// in Foreign[1] when i%6 == 2, a third of the cash activities are in one of
	// them, and the data set has daily rates of each into Currency (WriteRates).
	Foreign []string
}

// Default is the benchmark data set: 50,000 activities over 20 years across 300
// symbols, with about 1.57 million weekday closes.
func Default() Config {
	return Config{
		Seed:              1,
		Activities:        50_000,
		Symbols:           300,
		Start:             calendar.MustNew(2005, 1, 3),
		Years:             20,
		Currency:          "USD",
		Splits:            20,
		Voids:             20,
		BackDatedPermille: 10,
	}
}

// MultiCurrency is Default with a third of the activities in EUR and in GBp
// (London listings in pence), and a rates file.
func MultiCurrency() Config {
	c := Default()
	c.Foreign = []string{"EUR", "GBp"}
	return c
}

// Small is a quick data set for tests: 3,000 activities over 3 years, 30 symbols.
func Small() Config {
	c := Default()
	c.Activities, c.Symbols, c.Years, c.Splits, c.Voids = 3_000, 30, 3, 4, 5
	return c
}

// Activity is one record of the activities file. Numbers are decimal text; an empty
// string means the key is absent.
type Activity struct {
	ID, Type, Date, Symbol, Currency      string
	Quantity, UnitPrice, Fee, Amount, Tax string
	Ratio, Voids, Reason                  string
}

// Dataset is a generated history.
type Dataset struct {
	Config     Config
	Days       []calendar.Date // the weekdays with closes
	Symbols    []string
	Activities []Activity // in file order
	// Counts per activity type.
	Counts map[string]int
	closes []int64 // cents, unadjusted, [day*len(Symbols)+symbol]
	// rates[day*len(Foreign)+i] is Foreign[i]'s settlement currency in Currency,
	// in 1e-4 units (Foreign only).
	rates []int64
}

// Close returns the close of symbol index s on day index d, in cents.
func (d *Dataset) Close(day, s int) int64 { return d.closes[day*len(d.Symbols)+s] }

// LastDay is the last day with closes.
func (d *Dataset) LastDay() calendar.Date { return d.Days[len(d.Days)-1] }

// gen holds the generator's state.
type gen struct {
	cfg    Config
	rnd    *rand.Rand
	d      *Dataset
	held   []int64 // thousandths of a share, by symbol
	heldIx []int   // symbols with held > 0
	where  []int   // position of a symbol in heldIx, -1 if not held
	cash   []int64 // 1e-5 of each currency (0 is Currency, then Foreign)
	ccys   []string
	ccyOf  []int // by symbol: index in ccys
	nextID int
}

// Generate builds the data set for cfg.
func Generate(cfg Config) *Dataset {
	g := &gen{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15))}
	d := &Dataset{Config: cfg, Counts: map[string]int{}}
	g.d = d
	end := cfg.Start.AddDays(cfg.Years*365 + cfg.Years/4)
	for day := cfg.Start; day < end; day++ {
		if wd := day.Weekday(); wd != 0 && wd != 6 {
			d.Days = append(d.Days, day)
		}
	}
	nsym := max(cfg.Symbols, 1)
	for i := range nsym {
		d.Symbols = append(d.Symbols, fmt.Sprintf("S%03d", i))
	}
	g.held = make([]int64, nsym)
	g.where = make([]int, nsym)
	for i := range g.where {
		g.where[i] = -1
	}
	g.ccys = append([]string{cfg.Currency}, cfg.Foreign...)
	g.cash = make([]int64, len(g.ccys))
	g.ccyOf = make([]int, nsym)
	for i := range g.ccyOf {
		if f := i % 6; f >= 1 && f <= len(cfg.Foreign) {
			g.ccyOf[i] = f
		}
	}
	rate := make([]int64, len(cfg.Foreign)) // 1e-4 units
	for i := range rate {
		rate[i] = 11_000 + 2_000*int64(i) // 1.1, 1.3
	}

	// Split days, distinct (day, symbol), in the later nine tenths of the history.
	type splitAt struct{ day, sym, ratio int }
	var splits []splitAt
	seen := map[[2]int]bool{}
	for len(splits) < cfg.Splits && len(d.Days) > 10 {
		s := splitAt{day: len(d.Days)/10 + g.rnd.IntN(len(d.Days)-len(d.Days)/10), sym: g.rnd.IntN(nsym), ratio: 2 + g.rnd.IntN(3)}
		if !seen[[2]int{s.day, s.sym}] {
			seen[[2]int{s.day, s.sym}] = true
			splits = append(splits, s)
		}
	}
	slices.SortFunc(splits, func(a, b splitAt) int { return a.day - b.day })

	body := max(cfg.Activities-cfg.Voids-len(splits), 0)
	price := make([]int64, nsym)
	for i := range price {
		price[i] = 1000 + g.rnd.Int64N(19000)
	}
	d.closes = make([]int64, 0, len(d.Days)*nsym)
	emitted, si := 0, 0
	for di, day := range d.Days {
		date := day.String()
		// Splits take effect before the day's trading: the close drops, holdings grow.
		for si < len(splits) && splits[si].day == di {
			s := splits[si]
			price[s.sym] = max(price[s.sym]/int64(s.ratio), 1)
			g.setHeld(s.sym, g.held[s.sym]*int64(s.ratio))
			g.addIn(Activity{Type: "SPLIT", Date: date, Symbol: d.Symbols[s.sym], Ratio: strconv.Itoa(s.ratio) + ":1"}, g.ccyOf[s.sym])
			si++
		}
		if di > 0 {
			for i := range price {
				step := g.rnd.Int64N(411) - 200 // basis points, a slight upward drift
				price[i] = min(max(price[i]+price[i]*step/10_000, 50), 10_000_000)
			}
		}
		d.closes = append(d.closes, price...)
		for i := range rate {
			if di > 0 {
				rate[i] = max(rate[i]+rate[i]*(g.rnd.Int64N(101)-50)/10_000, 5_000) // ±0.5% a day
			}
			d.rates = append(d.rates, rate[i])
		}
		for target := body * (di + 1) / len(d.Days); emitted < target; emitted++ {
			g.activity(date, di, price)
		}
	}
	g.backDate()
	g.voids()
	return d
}

func (g *gen) id() string {
	g.nextID++
	return fmt.Sprintf("g%06d", g.nextID)
}

func (g *gen) add(a Activity) { g.addIn(a, 0) }

// addIn adds an activity in currency ccys[c].
func (g *gen) addIn(a Activity, c int) {
	a.ID = g.id()
	if a.Type != "VOID" {
		a.Currency = g.ccys[c]
	}
	g.d.Activities = append(g.d.Activities, a)
	g.d.Counts[a.Type]++
}

func (g *gen) setHeld(sym int, q int64) {
	g.held[sym] = q
	switch at := g.where[sym]; {
	case q > 0 && at < 0:
		g.where[sym] = len(g.heldIx)
		g.heldIx = append(g.heldIx, sym)
	case q == 0 && at >= 0:
		last := g.heldIx[len(g.heldIx)-1]
		g.heldIx[at] = last
		g.where[last] = at
		g.heldIx = g.heldIx[:len(g.heldIx)-1]
		g.where[sym] = -1
	}
}

// Text forms of fixed-point integers.
func cents(v int64) string     { return fixed(v, 2) }
func thousands(v int64) string { return fixed(v, 3) }
func fixed(v int64, places int) string {
	s := strconv.FormatInt(v, 10)
	neg := v < 0
	if neg {
		s = s[1:]
	}
	for len(s) <= places {
		s = "0" + s
	}
	s = s[:len(s)-places] + "." + s[len(s)-places:]
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// roundCents rounds an amount in 1e-5 units to whole cents (in 1e-5 units).
func roundCents(v int64) int64 { return (v + 500) / 1000 * 1000 }

func (g *gen) deposit(date string, c int, atLeast int64) {
	// Whole hundreds of the currency, comfortably above what is needed.
	amount := (atLeast/100_000/100 + 1 + g.rnd.Int64N(100)) * 100 // currency units
	g.cash[c] += amount * 100_000
	g.addIn(Activity{Type: "DEPOSIT", Date: date, Amount: strconv.FormatInt(amount, 10)}, c)
}

// cashCurrency picks the currency of an activity that moves cash only: with
// Foreign, one of them a third of the time.
func (g *gen) cashCurrency() int {
	if len(g.cfg.Foreign) == 0 || g.rnd.IntN(3) != 0 {
		return 0
	}
	return 1 + g.rnd.IntN(len(g.cfg.Foreign))
}

func (g *gen) activity(date string, di int, price []int64) {
	r := g.rnd.IntN(1000)
	switch {
	case r < 500 || len(g.heldIx) == 0 && r < 890:
		g.buy(date, price)
	case r < 750:
		g.sell(date, price)
	case r < 890:
		g.dividend(date, price)
	case r < 920:
		g.fee(date, g.cashCurrency())
	case r < 940:
		g.interest(date, g.cashCurrency())
	default:
		c := g.cashCurrency()
		if r < 960 && g.cash[c] > 1_000_000_000 { // more than 10,000 in cash
			amount := g.cash[c] / 100_000 / 10 // a tenth, in whole units
			g.cash[c] -= amount * 100_000
			g.addIn(Activity{Type: "WITHDRAWAL", Date: date, Amount: strconv.FormatInt(amount, 10)}, c)
			return
		}
		g.deposit(date, c, 0)
	}
}

func (g *gen) buy(date string, price []int64) {
	sym := g.rnd.IntN(len(price))
	qty := (1 + g.rnd.Int64N(100)) * 1000
	if g.rnd.IntN(10) == 0 {
		qty = 1 + g.rnd.Int64N(100_000) // fractional shares
	}
	gross := qty * price[sym] // 1e-5 units
	fee := g.fee100()
	var tax int64
	if g.rnd.IntN(20) == 0 {
		tax = roundCents(gross / 1000) // 0.1% stamp duty
	}
	c := g.ccyOf[sym]
	if need := gross + fee*1000 + tax; g.cash[c] < need {
		g.deposit(date, c, need-g.cash[c])
		return
	}
	g.cash[c] -= gross + fee*1000 + tax
	g.setHeld(sym, g.held[sym]+qty)
	a := Activity{Type: "BUY", Date: date, Symbol: g.d.Symbols[sym], Quantity: thousands(qty), UnitPrice: cents(price[sym]), Fee: cents(fee)}
	if tax > 0 {
		a.Tax = fixed(tax, 5)
	}
	g.addIn(a, c)
}

// fee100 is a trade fee in cents: zero one time in five, else up to 9.99.
func (g *gen) fee100() int64 {
	if g.rnd.IntN(5) == 0 {
		return 0
	}
	return 1 + g.rnd.Int64N(999)
}

func (g *gen) sell(date string, price []int64) {
	sym := g.heldIx[g.rnd.IntN(len(g.heldIx))]
	held := g.held[sym]
	qty := held
	if g.rnd.IntN(10) >= 3 {
		qty = 1 + g.rnd.Int64N(held)
	}
	gross := qty * price[sym]
	fee := g.fee100()
	var tax int64
	if g.rnd.IntN(10) == 0 {
		tax = roundCents(gross / 100) // 1% transaction tax
	}
	g.cash[g.ccyOf[sym]] += gross - fee*1000 - tax
	g.setHeld(sym, held-qty)
	a := Activity{Type: "SELL", Date: date, Symbol: g.d.Symbols[sym], Quantity: thousands(qty), UnitPrice: cents(price[sym]), Fee: cents(fee)}
	if tax > 0 {
		a.Tax = fixed(tax, 5)
	}
	g.addIn(a, g.ccyOf[sym])
}

func (g *gen) dividend(date string, price []int64) {
	sym := g.heldIx[g.rnd.IntN(len(g.heldIx))]
	held := g.held[sym]
	dps := max(price[sym]*(20+g.rnd.Int64N(41))/10_000, 1) // cents per share
	amount := held * dps                                   // 1e-5 units
	a := Activity{Type: "DIVIDEND", Date: date, Symbol: g.d.Symbols[sym]}
	if g.rnd.IntN(2) == 0 {
		a.Quantity, a.UnitPrice = thousands(held), cents(dps) // Ghostfolio's encoding
	} else {
		a.Amount = fixed(amount, 5)
	}
	if g.rnd.IntN(2) == 0 {
		if tax := roundCents(amount * 15 / 100); tax > 0 {
			a.Tax = fixed(tax, 5)
			amount -= tax
		}
	}
	g.cash[g.ccyOf[sym]] += amount
	g.addIn(a, g.ccyOf[sym])
}

func (g *gen) fee(date string, c int) {
	amount := 100 + g.rnd.Int64N(4900) // cents
	a := Activity{Type: "FEE", Date: date, Fee: cents(amount)}
	if len(g.heldIx) > 0 && g.rnd.IntN(2) == 0 {
		a.Symbol = g.d.Symbols[g.heldIx[g.rnd.IntN(len(g.heldIx))]]
	}
	g.cash[c] -= amount * 1000
	g.addIn(a, c)
}

func (g *gen) interest(date string, c int) {
	amount := 100 + g.rnd.Int64N(9900) // cents
	a := Activity{Type: "INTEREST", Date: date}
	if g.rnd.IntN(2) == 0 {
		a.Quantity, a.UnitPrice = "1", cents(amount) // Ghostfolio's encoding
	} else {
		a.Amount = cents(amount)
	}
	g.cash[c] += amount * 1000
	g.addIn(a, c)
}

// backDate moves some cash-only activities to the end of the file. They change no
// holding, so moving them after a same-day sell cannot make the sell invalid.
func (g *gen) backDate() {
	acts := g.d.Activities
	var moved []Activity
	kept := acts[:0]
	for _, a := range acts {
		cashOnly := a.Type == "DIVIDEND" || a.Type == "FEE" || a.Type == "INTEREST"
		if cashOnly && g.rnd.IntN(1000) < g.cfg.BackDatedPermille {
			moved = append(moved, a)
			continue
		}
		kept = append(kept, a)
	}
	g.d.Activities = append(kept, moved...)
}

// voids appends VOIDs of distinct FEE and INTEREST activities.
func (g *gen) voids() {
	var candidates []int
	for i, a := range g.d.Activities {
		if a.Type == "FEE" || a.Type == "INTEREST" {
			candidates = append(candidates, i)
		}
	}
	g.rnd.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	last := g.d.Days[len(g.d.Days)-1].String()
	for _, i := range candidates[:min(g.cfg.Voids, len(candidates))] {
		g.add(Activity{Type: "VOID", Date: last, Voids: g.d.Activities[i].ID, Reason: "entered twice"})
	}
}

// WriteActivities writes the activities file (our JSON, one activity per line).
func (d *Dataset) WriteActivities(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "{\"meta\":{\"generator\":\"benchdata\",\"seed\":%d},\"activities\":[\n", d.Config.Seed)
	var buf []byte
	for i, a := range d.Activities {
		buf = buf[:0]
		buf = append(buf, '{')
		str := func(k, v string) {
			if v != "" {
				if buf[len(buf)-1] != '{' {
					buf = append(buf, ',')
				}
				buf = strconv.AppendQuote(append(strconv.AppendQuote(buf, k), ':'), v)
			}
		}
		num := func(k, v string) {
			if v != "" {
				buf = append(append(strconv.AppendQuote(append(buf, ','), k), ':'), v...)
			}
		}
		str("id", a.ID)
		str("date", a.Date)
		str("type", a.Type)
		str("symbol", a.Symbol)
		num("quantity", a.Quantity)
		num("unitPrice", a.UnitPrice)
		num("fee", a.Fee)
		str("amount", a.Amount) // as a string, to exercise both encodings
		num("tax", a.Tax)
		str("currency", a.Currency)
		str("ratio", a.Ratio)
		str("voids", a.Voids)
		str("reason", a.Reason)
		buf = append(buf, '}')
		if i < len(d.Activities)-1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// WritePrices writes the closes as CSV "date,symbol,close", by date then symbol.
func (d *Dataset) WritePrices(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("date,symbol,close\n")
	var buf []byte
	n := len(d.Symbols)
	for di, day := range d.Days {
		date := day.String()
		for s, sym := range d.Symbols {
			buf = append(buf[:0], date...)
			buf = append(buf, ',')
			buf = append(buf, sym...)
			buf = append(buf, ',')
			buf = append(buf, cents(d.closes[di*n+s])...)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	return bw.Flush()
}

// WriteRates writes, with Foreign, the daily rate of each foreign currency's
// settlement currency into Currency as CSV "date,from,to,rate" (GBp's is GBP's);
// without, only the header.
func (d *Dataset) WriteRates(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("date,from,to,rate\n")
	n := len(d.Config.Foreign)
	for di, day := range d.Days {
		for i, code := range d.Config.Foreign {
			if code == "GBp" {
				code = "GBP"
			}
			fmt.Fprintf(bw, "%s,%s,%s,%s\n", day, code, d.Config.Currency, fixed(d.rates[di*n+i], 4))
		}
	}
	return bw.Flush()
}

// RatesFile is the name of the rates file WriteFiles writes with Foreign.
const RatesFile = "fx.csv"

// WriteFiles writes activities.json and prices.csv into dir and returns their
// paths; with Foreign, also RatesFile.
func (d *Dataset) WriteFiles(dir string) (activities, prices string, err error) {
	activities = filepath.Join(dir, "activities.json")
	prices = filepath.Join(dir, "prices.csv")
	if err := writeFile(activities, d.WriteActivities); err != nil {
		return "", "", err
	}
	if err := writeFile(prices, d.WritePrices); err != nil {
		return "", "", err
	}
	if len(d.Config.Foreign) > 0 {
		if err := writeFile(filepath.Join(dir, RatesFile), d.WriteRates); err != nil {
			return "", "", err
		}
	}
	return activities, prices, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
