package performance

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// The benchmark universe: 300 symbols over 20 years of weekdays (5218 trading days,
// 1,565,400 closes), prices a random walk in cents.
const (
	benchSymbols = 300
	benchTxs     = 50_000
)

var (
	benchFrom = calendar.MustNew(2005, time.January, 1)
	benchTo   = calendar.MustNew(2024, time.December, 31)
)

func benchSymbol(i int) string { return "SYM" + strconv.Itoa(i) }

func tradingDays() []calendar.Date {
	var out []calendar.Date
	for d := benchFrom; d <= benchTo; d++ {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			out = append(out, d)
		}
	}
	return out
}

// closesGen streams the benchmark closes as CSV, date-major (every symbol for a day,
// then the next day), without holding the file in memory.
type closesGen struct {
	days   []calendar.Date
	cents  []int64
	rng    *rand.Rand
	di, si int
	buf    []byte
	header bool
}

func newClosesGen() *closesGen {
	g := &closesGen{days: tradingDays(), cents: make([]int64, benchSymbols), rng: rand.New(rand.NewPCG(1, 2))}
	for i := range g.cents {
		g.cents[i] = 1000 + g.rng.Int64N(100000)
	}
	return g
}

func (g *closesGen) Read(p []byte) (int, error) {
	if !g.header {
		g.header = true
		g.buf = append(g.buf, "date,symbol,close\n"...)
	}
	for len(g.buf) < len(p) && g.di < len(g.days) {
		c := &g.cents[g.si]
		*c = max(1, *c+g.rng.Int64N(201)-100)
		g.buf = append(g.buf, g.days[g.di].String()...)
		g.buf = append(g.buf, ",SYM"...)
		g.buf = strconv.AppendInt(g.buf, int64(g.si), 10)
		g.buf = append(g.buf, ',')
		g.buf = strconv.AppendInt(g.buf, *c/100, 10)
		g.buf = append(g.buf, '.', byte('0'+*c/10%10), byte('0'+*c%10), '\n')
		if g.si++; g.si == benchSymbols {
			g.si, g.di = 0, g.di+1
		}
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

var benchCSV = sync.OnceValue(func() []byte {
	b, err := io.ReadAll(newClosesGen())
	if err != nil {
		panic(err)
	}
	return b
})

var benchCloses = sync.OnceValue(func() *Closes {
	c, err := LoadCSV(bytes.NewReader(benchCSV()), "bench.csv")
	if err != nil {
		panic(err)
	}
	return c
})

// benchHistory generates 50,000 transactions over the 20 years across the 300
// symbols: buys, sells of part of a holding, dividends, fees, splits, and (with
// cash) deposits and withdrawals, in replay order.
func benchHistory(c *Closes, cash bool) []portfolio.Transaction {
	rng := rand.New(rand.NewPCG(3, 4))
	trading := tradingDays()
	dates := make([]calendar.Date, benchTxs)
	for i := range dates {
		dates[i] = trading[rng.IntN(len(trading))]
	}
	slices.Sort(dates)
	held := make([]int64, benchSymbols) // whole shares
	txs := make([]portfolio.Transaction, 0, benchTxs)
	for i, d := range dates {
		s := rng.IntN(benchSymbols)
		sym := benchSymbol(s)
		tx := portfolio.Transaction{ID: "t" + strconv.Itoa(i), Seq: int64(i), Date: d, Currency: "USD"}
		k := rng.IntN(100)
		switch {
		case k < 45 || (k < 75 && held[s] == 0):
			px, _, ok := c.On(sym, d)
			if !ok {
				px = decimal.New(100, 0)
			}
			q := 1 + rng.Int64N(50)
			held[s] += q
			tx.Type, tx.Symbol, tx.Quantity, tx.Price, tx.Fee = portfolio.Buy, sym, decimal.New(q, 0), px, decimal.New(rng.Int64N(1000), -2)
		case k < 75:
			px, _, ok := c.On(sym, d)
			if !ok {
				px = decimal.New(100, 0)
			}
			q := 1 + rng.Int64N(held[s])
			held[s] -= q
			tx.Type, tx.Symbol, tx.Quantity, tx.Price, tx.Fee = portfolio.Sell, sym, decimal.New(q, 0), px, decimal.New(rng.Int64N(1000), -2)
		case k < 90:
			tx.Type, tx.Symbol, tx.Amount, tx.Tax = portfolio.Dividend, sym, decimal.New(1+rng.Int64N(50000), -2), decimal.New(rng.Int64N(500), -2)
		case k < 93:
			tx.Type, tx.Amount = portfolio.Fee, decimal.New(1+rng.Int64N(2000), -2)
		case k < 95:
			tx.Type, tx.Symbol, tx.Ratio = portfolio.Split, sym, portfolio.Ratio{New: 2, Old: 1}
			// held[s] is left as is: replay puts a split before the day's other
			// transactions, so doubling here could let a later sell exceed the holding.
		case cash && k < 98:
			tx.Type, tx.Amount = portfolio.Deposit, decimal.New(1+rng.Int64N(1_000_000), 0)
		case cash:
			tx.Type, tx.Amount = portfolio.Withdrawal, decimal.New(1+rng.Int64N(100_000), 0)
		default:
			tx.Type, tx.Amount = portfolio.Interest, decimal.New(1+rng.Int64N(10000), -2)
		}
		txs = append(txs, tx)
	}
	portfolio.SortForReplay(txs)
	return txs
}

// cpuNow is the CPU time (user + system) the process has used. The machine is
// shared, so wall-clock ns/op can include time spent waiting for a core; the
// benchmarks also report cpu-ns/op, the process CPU per operation (GC included).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f under b.Loop and reports cpu-ns/op.
func loop(b *testing.B, f func()) {
	b.Helper()
	start := cpuNow()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	b.ReportMetric(float64((cpuNow()-start).Nanoseconds())/float64(n), "cpu-ns/op")
}

// heapAfterGC returns the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkLoadCSV(b *testing.B) {
	data := benchCSV()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var c *Closes
	loop(b, func() {
		var err error
		c, err = LoadCSV(bytes.NewReader(data), "bench.csv")
		if err != nil {
			b.Fatal(err)
		}
	})
	b.StopTimer()
	if c.Len() != benchSymbols*len(tradingDays()) {
		b.Fatalf("loaded %d closes", c.Len())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.Len()), "ns/close")
	c = nil
	before := heapAfterGC()
	c, _ = LoadCSV(bytes.NewReader(data), "bench.csv")
	after := heapAfterGC()
	b.ReportMetric(float64(after-before)/float64(c.Len()), "heapB/close")
	runtime.KeepAlive(c)
}

// The same file sorted by symbol then date: every line has a new date to parse.
func BenchmarkLoadCSVSymbolMajor(b *testing.B) {
	c := benchCloses()
	var buf bytes.Buffer
	for _, sym := range c.Symbols() {
		s := c.lookup(sym)
		for i, d := range s.dates {
			buf.WriteString(d.String())
			buf.WriteByte(',')
			buf.WriteString(sym)
			buf.WriteByte(',')
			buf.WriteString(s.decimal(i).String())
			buf.WriteByte('\n')
		}
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	loop(b, func() {
		if _, err := LoadCSV(bytes.NewReader(data), "bench.csv"); err != nil {
			b.Fatal(err)
		}
	})
}

// TestClosesMemory loads the 1.5M benchmark closes from a stream and logs the live
// heap they take and the garbage the load makes (go test -run ClosesMemory -v).
func TestClosesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1.5M closes")
	}
	before := heapAfterGC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocBefore := ms.TotalAlloc
	start := time.Now()
	c, err := LoadCSV(newClosesGen(), "gen")
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc - allocBefore
	after := heapAfterGC()
	live := after - before
	t.Logf("%d closes, %d symbols: live heap %.1f MB (%.2f B/close), allocated during load %.1f MB, %v (incl. generating the CSV)",
		c.Len(), len(c.Symbols()), float64(live)/1e6, float64(live)/float64(c.Len()), float64(allocated)/1e6, elapsed)
	if perClose := float64(live) / float64(c.Len()); perClose > 8 {
		t.Errorf("%.2f bytes per close, want at most 8", perClose)
	}
	runtime.KeepAlive(c)
}

func benchSeries(b *testing.B, cash bool) {
	c := benchCloses()
	txs := benchHistory(c, cash)
	benchBuild(b, func() (*Series, error) { return Build(txs, c, benchFrom, benchTo) })
}

func benchBuild(b *testing.B, build func() (*Series, error)) {
	b.ReportAllocs()
	var s *Series
	loop(b, func() {
		var err error
		s, err = build()
		if err != nil {
			b.Fatal(err)
		}
	})
	b.StopTimer()
	if len(s.Days) != int(benchTo-benchFrom+1) || len(s.Warnings) != 0 {
		b.Fatalf("%d days, warnings %v", len(s.Days), s.Warnings)
	}
}

func BenchmarkBuildSeries(b *testing.B) {
	b.Run("trades", func(b *testing.B) { benchSeries(b, false) })
	b.Run("cash", func(b *testing.B) { benchSeries(b, true) })
}

// benchFX moves the history of benchHistory into three currencies: the symbols
// SYM<i> with i%6 == 1 trade in EUR and i%6 == 2 in GBp (a third of them), a third
// of the cash transactions are in EUR or GBP, and each foreign one carries its
// date's rate from a daily EUR→USD and GBP→USD series (a random walk), which
// values the series in USD.
func benchFX(txs []portfolio.Transaction) ([]portfolio.Transaction, FX) {
	rng := rand.New(rand.NewPCG(5, 6))
	rates := currency.NewRates()
	eur, gbp := int64(11_000), int64(13_000) // 1e-4 units
	for _, d := range tradingDays() {
		eur = max(eur+eur*(rng.Int64N(101)-50)/10_000, 5_000)
		gbp = max(gbp+gbp*(rng.Int64N(101)-50)/10_000, 5_000)
		_ = rates.Add(d, "EUR", "USD", decimal.New(eur, -4))
		_ = rates.Add(d, "GBP", "USD", decimal.New(gbp, -4))
	}
	out := slices.Clone(txs)
	for i := range out {
		tx := &out[i]
		code := "USD"
		if tx.Symbol != "" && tx.Type != portfolio.Fee {
			n, _ := strconv.Atoi(strings.TrimPrefix(tx.Symbol, "SYM"))
			code = [...]string{"USD", "EUR", "GBp", "USD", "USD", "USD"}[n%6]
		} else if k := rng.IntN(6); k < 2 {
			code = [...]string{"EUR", "GBP"}[k]
		}
		tx.Currency = code
		if settle := tx.Settlement(); settle != "USD" {
			r, ok := rates.On(settle, "USD", tx.Date)
			if !ok {
				r.Value = decimal.New(1, 0) // before the first trading day: any rate will do
			}
			tx.FXRate = r.Value
		}
	}
	return out, FX{Base: "USD", Rates: rates}
}

// BenchmarkBuildSeriesFX is BuildSeries with a third of the history in EUR and
// GBp, through BuildFX.
func BenchmarkBuildSeriesFX(b *testing.B) {
	for _, cash := range []bool{false, true} {
		name := map[bool]string{false: "trades", true: "cash"}[cash]
		b.Run(name, func(b *testing.B) {
			c := benchCloses()
			txs, fx := benchFX(benchHistory(c, cash))
			benchBuild(b, func() (*Series, error) { return BuildFX(txs, c, fx, benchFrom, benchTo) })
		})
	}
}

var benchBuilt = sync.OnceValue(func() *Series {
	c := benchCloses()
	s, err := Build(benchHistory(c, false), c, benchFrom, benchTo)
	if err != nil {
		panic(err)
	}
	return s
})

func BenchmarkTWR(b *testing.B) {
	s := benchBuilt()
	b.ReportAllocs()
	loop(b, func() { _ = s.TWR() })
}

func BenchmarkMWR(b *testing.B) {
	s := benchBuilt()
	b.ReportAllocs()
	loop(b, func() {
		if _, err := s.MWR(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPipeline is the CLI's share in this package: load 1.5M closes, build
// the 20-year series over 50,000 transactions, TWR and MWR.
func BenchmarkPipeline(b *testing.B) {
	data := benchCSV()
	txs := benchHistory(benchCloses(), false)
	b.ReportAllocs()
	loop(b, func() {
		c, err := LoadCSV(bytes.NewReader(data), "bench.csv")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Build(txs, c, benchFrom, benchTo)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.TWR()
		if _, err := s.MWR(); err != nil {
			b.Fatal(err)
		}
	})
}

// TestPipelineMemory runs this package's share of the CLI once, streaming the
// closes, for measuring peak RSS from outside:
//
//	go test -c -o /tmp/p.test && /usr/bin/time -v /tmp/p.test -test.run PipelineMemory -test.v
func TestPipelineMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1.5M closes")
	}
	start := cpuNow()
	c, err := LoadCSV(newClosesGen(), "gen")
	if err != nil {
		t.Fatal(err)
	}
	loaded := cpuNow()
	txs := benchHistory(c, true)
	generated := cpuNow()
	s, err := Build(txs, c, benchFrom, benchTo)
	if err != nil {
		t.Fatal(err)
	}
	twr := s.TWR()
	mwr, err := s.MWR()
	if err != nil {
		t.Fatal(err)
	}
	done := cpuNow()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("load %v (incl. generating), build+TWR+MWR %v; TWR %.4f, MWR %.4f; heap in use %.1f MB, sys %.1f MB",
		loaded-start, done-generated, twr, mwr, float64(ms.HeapInuse)/1e6, float64(ms.Sys)/1e6)
}

// BenchmarkParseNumber compares the exact close parser with decimal.NewFromString
// (the reason LoadCSV does not call the latter per line).
func BenchmarkParseNumber(b *testing.B) {
	inputs := [][]byte{[]byte("185.64"), []byte("0.001234"), []byte("37087.5"), []byte("12")}
	b.Run("parseNumber", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, st := parseNumber(inputs[i&3]); st != numOK {
				b.Fatal(st)
			}
			i++
		}
	})
	b.Run("decimal.NewFromString", func(b *testing.B) {
		strs := []string{"185.64", "0.001234", "37087.5", "12"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := decimal.NewFromString(strs[i&3]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
