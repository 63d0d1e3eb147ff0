package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
)

// runCLI runs the CLI in process and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// golden runs calc in testdata (so paths in messages are short) and compares stdout.
func golden(t *testing.T, want string, args ...string) {
	t.Helper()
	t.Chdir("testdata")
	code, out, errOut := runCLI(t, append([]string{"calc"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

// TestCalcGhostfolioFIFO: testdata/ghostfolio-export.json is a Ghostfolio export
// (meta, accounts, user and ignored activity keys around nine USD activities; dates
// are date-times). Worked by hand, FIFO:
//
//	01-02 BUY  AAPL 10 @ 100, fee 5   lot A1: 10 sh, cost 10×100+5 = 1005
//	01-03 BUY  AAPL 10 @ 120, fee 5   lot A2: 10 sh, cost 1205
//	01-03 BUY  MSFT  2 @ 300, fee 1   cost 601
//	01-04 SELL AAPL  5 @ 130, fee 2   proceeds 650−2 = 648; takes 5 of A1: 1005×5/10 = 502.5
//	                                  realized 648−502.5 = 145.5; A1 now 5 sh / 502.5
//	01-05 DIVIDEND AAPL 15 × 0.5      amount 7.5 (Ghostfolio: quantity × unitPrice)
//	01-05 BUY  XYZ   1 @ 50           cost 50 — XYZ has no closes
//	01-06 FEE  3 (in "fee", no symbol)
//	01-08 SELL AAPL  7 @ 110, fee 1   proceeds 770−1 = 769; takes A1 (5 sh, 502.5) and
//	                                  2 of A2 (1205×2/10 = 241): cost 743.5, realized 25.5
//	                                  A2 now 8 sh / 964
//	01-08 SELL MSFT  2 @ 310, fee 1   proceeds 619, realized 619−601 = 18
//
// As of 2024-01-09 (the last close; the last activity is 01-08):
//
//	AAPL 8 sh, cost 964, average 964/8 = 120.5, close 115: value 920, unrealized −44,
//	     realized 145.5+25.5 = 171, fees 5+5+2+1 = 13, dividends 7.5
//	MSFT closed: quantity 0, realized 18, fees 2; close 311 so value 0
//	XYZ  1 sh, cost 50, no close: market figures omitted, warned, not in the totals
//	totals: cost 964+50 = 1014, value 920, unrealized −44, realized 171+18 = 189,
//	     fees 13+2+3 = 18, dividends 7.5,
//	     cash −1005−1205−601+648+7.5−50−3+769+619 = −820.5
//	     (check: −cost + realized + dividends − charges = −1014+189+7.5−3 = −820.5)
//
// Performance, 01-02..01-09 (8 days). No deposits, so trades are the flows and the
// value is the holdings. XYZ has no close: until it has one it is valued at its
// trade price, 50 (warned). Daily r = (end + out)/(start + in):
//
//	01-02 in 1005        end 10×101 = 1010               1010/1005
//	01-03 in 1205+601    end 20×118 + 2×300 = 2960       2960/(1010+1806)
//	01-04 out 648        end 15×131 + 2×305 = 2575       (2575+648)/2960
//	01-05 out 7.5 in 50  end 15×125 + 2×306 + 50 = 2537  (2537+7.5)/(2575+50)
//	01-06 in 3 (FEE)     end 2537                        2537/(2537+3)
//	01-07 —              end 2537                        1
//	01-08 out 769+619    end 8×112 + 50 = 946            (946+1388)/2537
//	01-09 —              end 8×115 + 50 = 970            970/946
//
//	TWR = 1010·3223·2544.5·2334·970 / (1005·2816·2625·2540·946) − 1 = 0.0505188449…
//	MWR: the IRR r solves −1005 −1806(1+r)^(−1/365) +648(1+r)^(−2/365)
//	     −42.5(1+r)^(−3/365) −3(1+r)^(−4/365) +1388(1+r)^(−6/365) +970(1+r)^(−8/365) = 0,
//	     r = 38.0707296… a year; over the 8 days (1+r)^(8/365) − 1 = 0.0836521484…
//	     (reported for the period: the range is shorter than a year)
func TestCalcGhostfolioFIFO(t *testing.T) {
	golden(t, `{
  "asOf": "2024-01-09",
  "baseCurrency": "USD",
  "lotMethod": "fifo",
  "holdings": [
    {
      "symbol": "AAPL",
      "currency": "USD",
      "quantity": "8",
      "costBasis": "964",
      "averagePrice": "120.5",
      "marketPrice": "115",
      "priceDate": "2024-01-09",
      "fxRate": "1",
      "marketValue": "920",
      "unrealizedPnL": "-44",
      "priceEffect": "-44",
      "currencyEffect": "0",
      "realizedPnL": "171",
      "fees": "13",
      "taxes": "0",
      "dividends": "7.5",
      "local": {
        "currency": "USD",
        "costBasis": "964",
        "marketValue": "920",
        "unrealizedPnL": "-44",
        "fees": "13",
        "taxes": "0",
        "dividends": "7.5"
      }
    },
    {
      "symbol": "MSFT",
      "currency": "USD",
      "quantity": "0",
      "costBasis": "0",
      "averagePrice": "0",
      "marketPrice": "311",
      "priceDate": "2024-01-09",
      "fxRate": "1",
      "marketValue": "0",
      "unrealizedPnL": "0",
      "priceEffect": "0",
      "currencyEffect": "0",
      "realizedPnL": "18",
      "fees": "2",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "USD",
        "costBasis": "0",
        "marketValue": "0",
        "unrealizedPnL": "0",
        "fees": "2",
        "taxes": "0",
        "dividends": "0"
      }
    },
    {
      "symbol": "XYZ",
      "currency": "USD",
      "quantity": "1",
      "costBasis": "50",
      "averagePrice": "50",
      "realizedPnL": "0",
      "fees": "0",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "USD",
        "costBasis": "50",
        "fees": "0",
        "taxes": "0",
        "dividends": "0"
      }
    }
  ],
  "totals": {
    "costBasis": "1014",
    "marketValue": "920",
    "unrealizedPnL": "-44",
    "priceEffect": "-44",
    "currencyEffect": "0",
    "realizedPnL": "189",
    "fees": "18",
    "taxes": "0",
    "dividends": "7.5",
    "interest": "0",
    "cash": "-820.5"
  },
  "cash": [
    {
      "currency": "USD",
      "amount": "-820.5",
      "fxRate": "1",
      "value": "-820.5"
    }
  ],
  "performance": {
    "from": "2024-01-02",
    "to": "2024-01-09",
    "days": 8,
    "twr": "0.05051884",
    "mwr": "0.08365215"
  },
  "warnings": [
    "XYZ: 1 held but no close on or before 2024-01-09 in ghostfolio-prices.csv; its market figures are omitted and not in the totals",
    "performance: XYZ is held on 2024-01-05 but has no close on or before that day; it is valued at its last trade price until its first close"
  ]
}
`, "--activities", "ghostfolio-export.json", "--prices", "ghostfolio-prices.csv")
}

// TestCalcGhostfolioAverage: the same file under average cost. Only the split of
// realized P&L between sells (and so the cost left) changes:
//
//	01-04 SELL AAPL 5: pool 20 sh / 2210, takes 2210×5/20 = 552.5, realized 648−552.5 = 95.5
//	                   pool 15 sh / 1657.5
//	01-08 SELL AAPL 7: takes 1657.5×7/15 = 773.5, realized 769−773.5 = −4.5
//	                   pool 8 sh / 884, average 110.5; at 115: value 920, unrealized 36
//	totals: cost 884+50 = 934, unrealized 36, realized 95.5−4.5+18 = 109;
//	        cash −820.5 as under FIFO (−934+109+7.5−3); returns unchanged.
func TestCalcGhostfolioAverage(t *testing.T) {
	golden(t, `{
  "asOf": "2024-01-09",
  "baseCurrency": "USD",
  "lotMethod": "average",
  "holdings": [
    {
      "symbol": "AAPL",
      "currency": "USD",
      "quantity": "8",
      "costBasis": "884",
      "averagePrice": "110.5",
      "marketPrice": "115",
      "priceDate": "2024-01-09",
      "fxRate": "1",
      "marketValue": "920",
      "unrealizedPnL": "36",
      "priceEffect": "36",
      "currencyEffect": "0",
      "realizedPnL": "91",
      "fees": "13",
      "taxes": "0",
      "dividends": "7.5",
      "local": {
        "currency": "USD",
        "costBasis": "884",
        "marketValue": "920",
        "unrealizedPnL": "36",
        "fees": "13",
        "taxes": "0",
        "dividends": "7.5"
      }
    },
    {
      "symbol": "MSFT",
      "currency": "USD",
      "quantity": "0",
      "costBasis": "0",
      "averagePrice": "0",
      "marketPrice": "311",
      "priceDate": "2024-01-09",
      "fxRate": "1",
      "marketValue": "0",
      "unrealizedPnL": "0",
      "priceEffect": "0",
      "currencyEffect": "0",
      "realizedPnL": "18",
      "fees": "2",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "USD",
        "costBasis": "0",
        "marketValue": "0",
        "unrealizedPnL": "0",
        "fees": "2",
        "taxes": "0",
        "dividends": "0"
      }
    },
    {
      "symbol": "XYZ",
      "currency": "USD",
      "quantity": "1",
      "costBasis": "50",
      "averagePrice": "50",
      "realizedPnL": "0",
      "fees": "0",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "USD",
        "costBasis": "50",
        "fees": "0",
        "taxes": "0",
        "dividends": "0"
      }
    }
  ],
  "totals": {
    "costBasis": "934",
    "marketValue": "920",
    "unrealizedPnL": "36",
    "priceEffect": "36",
    "currencyEffect": "0",
    "realizedPnL": "109",
    "fees": "18",
    "taxes": "0",
    "dividends": "7.5",
    "interest": "0",
    "cash": "-820.5"
  },
  "cash": [
    {
      "currency": "USD",
      "amount": "-820.5",
      "fxRate": "1",
      "value": "-820.5"
    }
  ],
  "performance": {
    "from": "2024-01-02",
    "to": "2024-01-09",
    "days": 8,
    "twr": "0.05051884",
    "mwr": "0.08365215"
  },
  "warnings": [
    "XYZ: 1 held but no close on or before 2024-01-09 in ghostfolio-prices.csv; its market figures are omitted and not in the totals",
    "performance: XYZ is held on 2024-01-05 but has no close on or before that day; it is valued at its last trade price until its first close"
  ]
}
`, "--activities", "ghostfolio-export.json", "--prices", "ghostfolio-prices.csv", "--lot-method", "average")
}

// TestCalcOwnFormat: testdata/own.json, our JSON in EUR, with a split, a VOID and a
// back-dated trade (b0, dated 03-04, recorded last). Replay order, FIFO:
//
//	03-01 DEPOSIT 10000
//	03-01 BUY SAP 10 @ 100, fee 2            lot L1: 10 sh / 1002
//	03-04 BUY SAP  5 @ 105, fee 1  (b0)      lot L0:  5 sh /  526 — sorted in by date
//	03-05 BUY SAP 10 @ 110, fee 2, tax 1     lot L2: 10 sh / 1103
//	03-06 SPLIT SAP 2:1                      L1 20 sh, L0 10 sh, L2 20 sh: 50 sh / 2631
//	                                         (b0 is split too: it is dated before the split)
//	03-07 SELL SAP 15 @ 60, fee 3            proceeds 900−3 = 897; takes 15 of L1:
//	                                         1002×15/20 = 751.5, realized 145.5
//	                                         left: L1 5/250.5, L0 10/526, L2 20/1103
//	03-08 DIVIDEND SAP 12, tax 1.8
//	03-08 FEE 5 (f1)                         voided by v1: as if never recorded
//
// As of 03-08: 35 sh, cost 250.5+526+1103 = 1879.5, average 53.7; close 61: value
// 2135, unrealized 255.5; fees 2+1+2+3 = 8; taxes 1+1.8 = 2.8; dividends 12;
// cash 10000−1002−526−1103+897+12−1.8 = 8276.2.
//
// Performance (a cash account: value = holdings + cash, flows = the deposit):
//
//	03-01 in 10000  end 8998 + 10×101 = 10008
//	03-04           end 8472 + 15×104 = 10032
//	03-05           end 7369 + 25×110 = 10119
//	03-06 split     end 7369 + 50×55  = 10119
//	03-07           end 8266 + 35×60  = 10366
//	03-08           end 8276.2 + 35×61 = 10411.2
//
//	TWR telescopes to 10411.2/10000 − 1 = 0.04112
//	MWR: 10000 grows to 10411.2 in 8 days: 1.04112^(365/8) − 1 = 5.2874351…
func TestCalcOwnFormat(t *testing.T) {
	golden(t, `{
  "asOf": "2024-03-08",
  "baseCurrency": "EUR",
  "lotMethod": "fifo",
  "holdings": [
    {
      "symbol": "SAP",
      "currency": "EUR",
      "quantity": "35",
      "costBasis": "1879.5",
      "averagePrice": "53.7",
      "marketPrice": "61",
      "priceDate": "2024-03-08",
      "fxRate": "1",
      "marketValue": "2135",
      "unrealizedPnL": "255.5",
      "priceEffect": "255.5",
      "currencyEffect": "0",
      "realizedPnL": "145.5",
      "fees": "8",
      "taxes": "2.8",
      "dividends": "12",
      "local": {
        "currency": "EUR",
        "costBasis": "1879.5",
        "marketValue": "2135",
        "unrealizedPnL": "255.5",
        "fees": "8",
        "taxes": "2.8",
        "dividends": "12"
      }
    }
  ],
  "totals": {
    "costBasis": "1879.5",
    "marketValue": "2135",
    "unrealizedPnL": "255.5",
    "priceEffect": "255.5",
    "currencyEffect": "0",
    "realizedPnL": "145.5",
    "fees": "8",
    "taxes": "2.8",
    "dividends": "12",
    "interest": "0",
    "cash": "8276.2"
  },
  "cash": [
    {
      "currency": "EUR",
      "amount": "8276.2",
      "fxRate": "1",
      "value": "8276.2"
    }
  ],
  "performance": {
    "from": "2024-03-01",
    "to": "2024-03-08",
    "days": 8,
    "twr": "0.04112000",
    "mwr": "0.04112000"
  },
  "warnings": []
}
`, "--activities", "own.json", "--prices", "own-prices.csv", "--base-currency", "EUR")
}

// TestCalcAsOf: only activities on or before --as-of count. As of 03-05 the sell,
// split, dividend and fee have not happened: L1 10/1002 + L0 5/526 + L2 10/1103 =
// 25 sh / 2631, average 105.24; close 110: value 2750, unrealized 119; fees 2+1+2 = 5,
// tax 1; cash 10000−2631 = 7369. TWR = (7369+2750)/10000 − 1 = 0.0119 over 5 days;
// MWR = 1.0119^(365/5) − 1 = 1.3716167…
func TestCalcAsOf(t *testing.T) {
	t.Chdir("testdata")
	code, out, errOut := runCLI(t, "calc", "--activities", "own.json", "--prices", "own-prices.csv", "--base-currency", "EUR", "--as-of", "2024-03-05")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep calcReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	h := rep.Holdings[0]
	got := strings.Join([]string{rep.AsOf, h.Quantity, h.CostBasis, h.AveragePrice, h.MarketValue, h.UnrealizedPnL, h.Fees, h.Taxes,
		rep.Totals.Cash, rep.Performance.To, *rep.Performance.TWR, *rep.Performance.MWR}, " ")
	if want := "2024-03-05 25 2631 105.24 2750 119 5 1 7369 2024-03-05 0.01190000 0.01190000"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestCalcGenerated: calc accepts the generated data set (a small one, in one
// currency and in three): its sells never exceed the holdings, every symbol has
// closes and every currency its rates.
func TestCalcGenerated(t *testing.T) {
	dir := t.TempDir()
	a, p, err := benchdata.Generate(benchdata.Small()).WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	multi := benchdata.Small()
	multi.Foreign = []string{"EUR", "GBp"}
	fxDir := t.TempDir()
	fa, fp, err := benchdata.Generate(multi).WriteFiles(fxDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range [][]string{
		{"--activities", a, "--prices", p, "--lot-method", "fifo"},
		{"--activities", a, "--prices", p, "--lot-method", "average"},
		{"--activities", fa, "--prices", fp, "--fx", filepath.Join(fxDir, benchdata.RatesFile), "--lot-method", "fifo"},
		{"--activities", fa, "--prices", fp, "--fx", filepath.Join(fxDir, benchdata.RatesFile), "--lot-method", "average", "--base-currency", "EUR"},
	} {
		m := strings.Join(run[4:], " ")
		code, out, errOut := runCLI(t, append([]string{"calc"}, run...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("%s: exit %d, stderr %q", m, code, errOut)
		}
		var rep calcReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Holdings) != benchdata.Small().Symbols || len(rep.Warnings) != 0 || rep.Performance.TWR == nil || rep.Performance.MWR == nil {
			t.Errorf("%s: %d holdings, warnings %q, performance %+v", m, len(rep.Holdings), rep.Warnings, rep.Performance)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCalcGhostfolioCSV: the same nine activities as Ghostfolio CSV (sells with
// negative quantities, as brokers write them) give the same report as the JSON.
func TestCalcGhostfolioCSV(t *testing.T) {
	t.Chdir("testdata")
	_, fromJSON, _ := runCLI(t, "calc", "--activities", "ghostfolio-export.json", "--prices", "ghostfolio-prices.csv")
	code, fromCSV, errOut := runCLI(t, "calc", "--activities", "ghostfolio-export.csv", "--prices", "ghostfolio-prices.csv")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if fromCSV != fromJSON {
		t.Errorf("CSV:\n%s\nJSON:\n%s", fromCSV, fromJSON)
	}
}
