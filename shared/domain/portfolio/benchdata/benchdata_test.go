package benchdata_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

func files(t *testing.T, cfg benchdata.Config) (acts, prices []byte) {
	t.Helper()
	d := benchdata.Generate(cfg)
	var a, p bytes.Buffer
	if err := d.WriteActivities(&a); err != nil {
		t.Fatal(err)
	}
	if err := d.WritePrices(&p); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), p.Bytes()
}

// smallActivitiesHash pins the generator's output: a change to it (or to math/rand/v2)
// changes every benchmark's input, and should be noticed.
const smallActivitiesHash = "00c833f1db595183"

func TestDeterministic(t *testing.T) {
	a1, p1 := files(t, benchdata.Small())
	a2, p2 := files(t, benchdata.Small())
	if !bytes.Equal(a1, a2) || !bytes.Equal(p1, p2) {
		t.Fatal("same config, different files")
	}
	cfg := benchdata.Small()
	cfg.Seed = 2
	a3, _ := files(t, cfg)
	if bytes.Equal(a1, a3) {
		t.Fatal("different seeds, same activities")
	}
	if got, want := fmt.Sprintf("%x", sha256.Sum256(a1))[:16], smallActivitiesHash; got != want {
		t.Errorf("activities hash %s, want %s", got, want)
	}
}

// TestValid: the small data set parses, every transaction is valid, the lot engine
// accepts every one of them under both methods (no sell exceeds the holding), every
// symbol has a close on every weekday, and it has what it promises.
func TestValid(t *testing.T) {
	cfg := benchdata.Small()
	a, p := files(t, cfg)
	res, err := activities.Parse(bytes.NewReader(a), "activities.json")
	if err != nil {
		t.Fatal(err)
	}
	if res.Activities != cfg.Activities || res.Voided != cfg.Voids || !slices.Equal(res.Currencies, []string{cfg.Currency}) {
		t.Errorf("got %s", res)
	}
	for _, m := range []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost} {
		book := lots.New(m, cfg.Currency)
		for i := range res.Transactions {
			if err := book.Apply(&res.Transactions[i]); err != nil {
				t.Fatalf("%s: %v", m, res.ErrorAt(res.Transactions[i].Seq, err))
			}
		}
	}
	closes, err := performance.LoadCSV(bytes.NewReader(p), "prices.csv")
	if err != nil {
		t.Fatal(err)
	}
	d := benchdata.Generate(cfg)
	if closes.Len() != len(d.Days)*cfg.Symbols {
		t.Errorf("%d closes, want %d", closes.Len(), len(d.Days)*cfg.Symbols)
	}
	count := map[portfolio.TxType]int{}
	var taxed, outOfOrder int
	for _, tx := range res.Transactions {
		count[tx.Type]++
		if tx.Tax.IsPositive() {
			taxed++
		}
	}
	for i := 1; i < len(res.Transactions); i++ {
		if res.Transactions[i].Seq < res.Transactions[i-1].Seq {
			outOfOrder++
		}
	}
	if count[portfolio.Split] != cfg.Splits || count[portfolio.Sell] == 0 || count[portfolio.Dividend] == 0 ||
		count[portfolio.Fee] == 0 || count[portfolio.Interest] == 0 || count[portfolio.Deposit] == 0 || taxed == 0 || outOfOrder == 0 {
		t.Errorf("counts %v, %d taxed, %d back-dated", count, taxed, outOfOrder)
	}
	for _, day := range d.Days {
		if wd := day.Weekday(); wd == 0 || wd == 6 {
			t.Fatalf("a close on %s, a %s", day, wd)
		}
	}
}

func TestDefaultSize(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the full data set")
	}
	cfg := benchdata.Default()
	d := benchdata.Generate(cfg)
	if len(d.Activities) != 50_000 || len(d.Symbols) != 300 || d.Days[0] != cfg.Start || d.LastDay().Year() != 2025 {
		t.Errorf("%d activities, %d symbols, %s..%s", len(d.Activities), len(d.Symbols), d.Days[0], d.LastDay())
	}
	if n := len(d.Days) * len(d.Symbols); n < 1_500_000 {
		t.Errorf("%d closes", n)
	}
}

// TestMultiCurrency: with Foreign, about a third of the activities are in the two
// other currencies, each symbol trades in one currency, and the rates file has a
// rate of each on every day with closes.
func TestMultiCurrency(t *testing.T) {
	cfg := benchdata.Small()
	cfg.Foreign = []string{"EUR", "GBp"}
	d := benchdata.Generate(cfg)
	per := map[string]int{}
	symCcy := map[string]string{}
	for _, a := range d.Activities {
		per[a.Currency]++
		if a.Symbol != "" && a.Type != "FEE" {
			if was, ok := symCcy[a.Symbol]; ok && was != a.Currency {
				t.Fatalf("%s in %s and %s", a.Symbol, was, a.Currency)
			}
			symCcy[a.Symbol] = a.Currency
		}
	}
	foreign := float64(per["EUR"]+per["GBp"]) / float64(len(d.Activities))
	if foreign < 0.28 || foreign > 0.38 || per["EUR"] == 0 || per["GBp"] == 0 {
		t.Errorf("activities per currency %v: %.2f foreign", per, foreign)
	}
	var rates bytes.Buffer
	if err := d.WriteRates(&rates); err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(rates.Bytes(), []byte("\n")); lines != 1+2*len(d.Days) {
		t.Errorf("%d lines of rates, want %d", lines, 1+2*len(d.Days))
	}
}
