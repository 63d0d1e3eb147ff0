package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestCalcEURInvestor: testdata/eur-investor.json, a EUR investor with US shares
// and a London ETF quoted in pence, base EUR. The rates file quotes the market's
// way (1 EUR = 1.25 USD); calc derives what it needs:
//
//	from 01-02  USD→EUR 1/1.25 = 0.8    GBP→EUR 1.5 × 0.8 = 1.2 (through USD)
//	from 01-05  USD→EUR 1/1    = 1      GBP→EUR 1.5 × 1   = 1.5
//	from 01-08                          GBP→EUR 1.6 × 1   = 1.6
//
// Activities (FIFO), each booked at its date's rate:
//
//	01-02 DEPOSIT 10000 EUR                          EUR 10000
//	01-02 CONVERSION 4000 EUR → 5000 USD             EUR 6000, USD 5000 (no P&L: cash changes currency)
//	01-02 BUY AAPL 20 @ 100 USD, fee 5, rate 0.8     local cost 2005 USD; 2005 × 0.8 = 1604 EUR; USD 2995
//	01-03 CONVERSION 6000 EUR → 5000 GBP             EUR 0, GBP 5000
//	01-03 BUY VUSA.L 100 @ 5000 GBp, rate 1.2        100 × 5000 p = 5000 GBP; × 1.2 = 6000 EUR; GBP 0
//	01-04 DIVIDEND AAPL 10 USD, tax 1.5, rate 0.8    dividends 8 EUR, tax 1.2 EUR; USD 2995 + 8.5 = 3003.5
//	01-08 SELL AAPL 8 @ 120 USD, fee 2, rate 1       the dollar has moved: proceeds 958 USD = 958 EUR;
//	                                                 cost taken 8/20 of the lot: 802 USD, 641.6 EUR;
//	                                                 realized 958 − 641.6 = 316.4 EUR (156 USD);
//	                                                 USD 3003.5 + 958 = 3961.5
//
// As of 01-09 (AAPL 125 USD, VUSA.L 5200 GBp; USD→EUR 1, GBP→EUR 1.6):
//
//	AAPL   12 sh, cost 1604 − 641.6 = 962.4 EUR (local 2005 − 802 = 1203 USD), average 80.2 EUR
//	       value 12 × 125 = 1500 USD × 1 = 1500 EUR, unrealized 1500 − 962.4 = 537.6
//	       price effect (1500 − 1203) × 1 = 297, currency effect 1203 × 1 − 962.4 = 240.6:
//	       297 + 240.6 = 537.6; fees 5 × 0.8 + 2 × 1 = 6, taxes 1.2, dividends 8
//	VUSA.L 100 sh, cost 6000 EUR (local 5000 GBP), value 100 × 5200 p = 5200 GBP × 1.6 = 8320 EUR,
//	       unrealized 2320 = price effect (5200 − 5000) × 1.6 = 320 + currency effect 5000 × 1.6 − 6000 = 2000
//	totals: cost 6962.4, value 9820, unrealized 2857.6 = 617 + 2240.6; cash EUR 0, GBP 0,
//	        USD 3961.5 × 1 = 3961.5 EUR
//
// Performance in EUR: the deposit is the only flow, so TWR telescopes to the last
// value over it: (9820 + 3961.5) / 10000 − 1 = 0.37815, and MWR over the period is
// the same growth.
func TestCalcEURInvestor(t *testing.T) {
	golden(t, `{
  "asOf": "2024-01-09",
  "baseCurrency": "EUR",
  "lotMethod": "fifo",
  "holdings": [
    {
      "symbol": "AAPL",
      "currency": "USD",
      "quantity": "12",
      "costBasis": "962.4",
      "averagePrice": "80.2",
      "marketPrice": "125",
      "priceDate": "2024-01-09",
      "fxRate": "1",
      "marketValue": "1500",
      "unrealizedPnL": "537.6",
      "priceEffect": "297",
      "currencyEffect": "240.6",
      "realizedPnL": "316.4",
      "fees": "6",
      "taxes": "1.2",
      "dividends": "8",
      "local": {
        "currency": "USD",
        "costBasis": "1203",
        "marketValue": "1500",
        "unrealizedPnL": "297",
        "fees": "7",
        "taxes": "1.5",
        "dividends": "10"
      }
    },
    {
      "symbol": "VUSA.L",
      "currency": "GBp",
      "quantity": "100",
      "costBasis": "6000",
      "averagePrice": "60",
      "marketPrice": "5200",
      "priceDate": "2024-01-09",
      "fxRate": "1.6",
      "marketValue": "8320",
      "unrealizedPnL": "2320",
      "priceEffect": "320",
      "currencyEffect": "2000",
      "realizedPnL": "0",
      "fees": "0",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "GBP",
        "costBasis": "5000",
        "marketValue": "5200",
        "unrealizedPnL": "200",
        "fees": "0",
        "taxes": "0",
        "dividends": "0"
      }
    }
  ],
  "totals": {
    "costBasis": "6962.4",
    "marketValue": "9820",
    "unrealizedPnL": "2857.6",
    "priceEffect": "617",
    "currencyEffect": "2240.6",
    "realizedPnL": "316.4",
    "fees": "6",
    "taxes": "1.2",
    "dividends": "8",
    "interest": "0",
    "cash": "3961.5"
  },
  "cash": [
    {
      "currency": "EUR",
      "amount": "0",
      "fxRate": "1",
      "value": "0"
    },
    {
      "currency": "GBP",
      "amount": "0",
      "fxRate": "1.6",
      "value": "0"
    },
    {
      "currency": "USD",
      "amount": "3961.5",
      "fxRate": "1",
      "value": "3961.5"
    }
  ],
  "performance": {
    "from": "2024-01-02",
    "to": "2024-01-09",
    "days": 8,
    "twr": "0.37815000",
    "mwr": "0.37815000"
  },
  "warnings": []
}
`, "--activities", "eur-investor.json", "--prices", "eur-investor-prices.csv", "--fx", "eur-investor-fx.csv", "--base-currency", "EUR")
}

// TestCalcGhostfolioSeveralCurrencies: testdata/ghostfolio-multi.json is a
// Ghostfolio export of a US investor (base USD, the default) with a London ETF
// quoted in pence and a German share; Ghostfolio writes each activity's currency,
// GBp for pence (fee 500 GBp is 5 GBP). Rates: GBP→USD 1.25, EUR→USD 1.1 from
// 01-02, GBP→USD 1.3 from 01-05.
//
//	01-02 BUY VUSA.L 10 @ 7000 GBp, fee 500 GBp   local (70000 + 500) p = 705 GBP; × 1.25 = 881.25 USD
//	01-03 BUY SAP.DE 2 @ 150 EUR, fee 1           local 301 EUR; × 1.1 = 331.1 USD
//	01-04 DIVIDEND VUSA.L 10 × 12 GBp             120 p = 1.2 GBP; × 1.25 = 1.5 USD
//
// As of 01-05 (VUSA.L 7200 GBp at 1.3, SAP.DE 160 EUR at 1.1):
//
//	VUSA.L value 10 × 72 = 720 GBP × 1.3 = 936, unrealized 936 − 881.25 = 54.75 = price effect
//	       (720 − 705) × 1.3 = 19.5 + currency effect 705 × 1.3 − 881.25 = 35.25; fees 5 × 1.25 = 6.25
//	SAP.DE value 320 EUR × 1.1 = 352, unrealized 20.9, all price effect (19 × 1.1): the euro did not move
//	cash   GBP −705 + 1.2 = −703.8 × 1.3 = −914.94, EUR −301 × 1.1 = −331.1: −1246.04
//
// Performance (no deposits: trades are the flows, at their own rates):
//
//	01-02 in 881.25   end 10 × 70 × 1.25 = 875              875/881.25
//	01-03 in 331.1    end 875 + 2 × 150 × 1.1 = 1205        1205/(875 + 331.1)
//	01-04 out 1.5     end 1205                              (1205 + 1.5)/1205
//	01-05             end 10 × 72 × 1.3 + 2 × 160 × 1.1 = 1288    1288/1205
//
//	TWR = 875 × 1206.5 × 1288 / (881.25 × 1206.1 × 1205) − 1 = 0.0616509383…
//	MWR: r solves −881.25 − 331.1(1+r)^(−1/365) + 1.5(1+r)^(−2/365) + 1288(1+r)^(−4/365) = 0,
//	     r = 420.27…; over the 4 days (1+r)^(4/365) − 1 = 0.0684700234…
func TestCalcGhostfolioSeveralCurrencies(t *testing.T) {
	golden(t, `{
  "asOf": "2024-01-05",
  "baseCurrency": "USD",
  "lotMethod": "fifo",
  "holdings": [
    {
      "symbol": "SAP.DE",
      "currency": "EUR",
      "quantity": "2",
      "costBasis": "331.1",
      "averagePrice": "165.55",
      "marketPrice": "160",
      "priceDate": "2024-01-05",
      "fxRate": "1.1",
      "marketValue": "352",
      "unrealizedPnL": "20.9",
      "priceEffect": "20.9",
      "currencyEffect": "0",
      "realizedPnL": "0",
      "fees": "1.1",
      "taxes": "0",
      "dividends": "0",
      "local": {
        "currency": "EUR",
        "costBasis": "301",
        "marketValue": "320",
        "unrealizedPnL": "19",
        "fees": "1",
        "taxes": "0",
        "dividends": "0"
      }
    },
    {
      "symbol": "VUSA.L",
      "currency": "GBp",
      "quantity": "10",
      "costBasis": "881.25",
      "averagePrice": "88.125",
      "marketPrice": "7200",
      "priceDate": "2024-01-05",
      "fxRate": "1.3",
      "marketValue": "936",
      "unrealizedPnL": "54.75",
      "priceEffect": "19.5",
      "currencyEffect": "35.25",
      "realizedPnL": "0",
      "fees": "6.25",
      "taxes": "0",
      "dividends": "1.5",
      "local": {
        "currency": "GBP",
        "costBasis": "705",
        "marketValue": "720",
        "unrealizedPnL": "15",
        "fees": "5",
        "taxes": "0",
        "dividends": "1.2"
      }
    }
  ],
  "totals": {
    "costBasis": "1212.35",
    "marketValue": "1288",
    "unrealizedPnL": "75.65",
    "priceEffect": "40.4",
    "currencyEffect": "35.25",
    "realizedPnL": "0",
    "fees": "7.35",
    "taxes": "0",
    "dividends": "1.5",
    "interest": "0",
    "cash": "-1246.04"
  },
  "cash": [
    {
      "currency": "EUR",
      "amount": "-301",
      "fxRate": "1.1",
      "value": "-331.1"
    },
    {
      "currency": "GBP",
      "amount": "-703.8",
      "fxRate": "1.3",
      "value": "-914.94"
    }
  ],
  "performance": {
    "from": "2024-01-02",
    "to": "2024-01-05",
    "days": 4,
    "twr": "0.06165094",
    "mwr": "0.06847002"
  },
  "warnings": []
}
`, "--activities", "ghostfolio-multi.json", "--prices", "ghostfolio-multi-prices.csv", "--fx", "ghostfolio-multi-fx.csv")
}

// TestCalcMissingRate: a EUR investor buys Swiss shares; the rates file has no
// franc. The trade carries its own recorded rate (fxRate 0.95), so it is booked:
// 10 × 100 CHF = 1000 CHF = 950 EUR. As of 01-03 (close 110) there is no CHF→EUR
// rate: the holding is unpriced and warned, and so is the CHF cash (−1000), which
// stays out of totals.cash. The daily series values the francs at the trade's
// rate, warned: no deposit, so the trade is the flow (in 950), day 1 ends at
// 10 × 100 × 0.95 = 950, day 2 at 10 × 110 × 0.95 = 1045: TWR 1045/950 − 1 = 0.1.
//
// A second franc trade without its own rate cannot be booked at all: an input
// error naming the activity, the file and the pair.
func TestCalcMissingRate(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "p.csv", "date,symbol,close\n2024-01-02,NESN,100\n2024-01-03,NESN,110\n")
	writeFile(t, ".", "fx.csv", "2024-01-02,EUR,USD,1.1\n") // no header: it is optional
	const buy = `{"date":"2024-01-02","type":"BUY","symbol":"NESN","quantity":10,"unitPrice":100,"currency":"CHF","fxRate":"0.95"}`
	writeFile(t, ".", "a.json", `{"activities":[`+"\n"+buy+"\n]}")
	code, out, errOut := runCLI(t, "calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx.csv", "--base-currency", "EUR")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep calcReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	h := rep.Holdings[0]
	got := strings.Join([]string{h.CostBasis, h.Local.CostBasis, h.MarketValue, h.PriceEffect, rep.Totals.MarketValue, rep.Totals.Cash, rep.Cash[0].Amount, rep.Cash[0].Value, *rep.Performance.TWR}, " ")
	if want := "950 1000   0 0 -1000  0.10000000"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	wantWarnings := []string{
		"NESN: 10 held in CHF but no CHF→EUR rate on or before 2024-01-03 in fx.csv; its market figures are omitted and not in the totals",
		"cash: -1000 CHF but no CHF→EUR rate on or before 2024-01-03 in fx.csv; it is not in totals.cash",
		"performance: CHF is needed on 2024-01-02 but no CHF→EUR rate is in force on that day; it is valued at its latest transaction's rate until a rate is",
	}
	if strings.Join(rep.Warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(rep.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}

	writeFile(t, ".", "a.json", `{"activities":[`+"\n"+buy+",\n"+`{"date":"2024-01-03","type":"SELL","symbol":"NESN","quantity":1,"unitPrice":110,"currency":"CHF"}`+"\n]}")
	code, out, errOut = runCLI(t, "calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx.csv", "--base-currency", "EUR")
	want := "a.json: activity 1 (line 3): fx rate required: no CHF→EUR rate on or before 2024-01-03 in fx.csv (directly, inverted, or through USD)\n"
	if code != 2 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n%q\nwant\n%q", code, out, errOut, want)
	}
}

// TestCalcPenceInPounds: a GBP investor's London ETF is quoted in pence and needs
// no rate: BUY 10 @ 7000 GBp + fee 5 GBp costs 70,005 p = 700.05 GBP; at 7100 p
// it is worth 710 GBP, unrealized 9.95, all of it price effect.
func TestCalcPenceInPounds(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "p.csv", "date,symbol,close\n2024-01-02,VUSA.L,7000\n2024-01-03,VUSA.L,7100\n")
	writeFile(t, ".", "a.csv", "Date,Code,Currency,Price,Quantity,Action,Fee\n2024-01-02,VUSA.L,GBp,7000,10,BUY,5\n")
	code, out, errOut := runCLI(t, "calc", "--activities", "a.csv", "--prices", "p.csv", "--base-currency", "GBP")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep calcReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	h := rep.Holdings[0]
	got := strings.Join([]string{h.Currency, h.CostBasis, h.MarketValue, h.UnrealizedPnL, h.PriceEffect, h.CurrencyEffect, h.Local.Currency, rep.Totals.Cash}, " ")
	if want := "GBp 700.05 710 9.95 9.95 0 GBP -700.05"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestCalcLocalIncomeInAnotherCurrency: a GBP investor's London ETF quoted in
// pence pays one dividend in pence and one in dollars. BUY 10 @ 7000 GBp + fee
// 500 GBp: fee 5 GBP. DIVIDEND 120 GBp = 1.2 GBP. DIVIDEND 10 USD, 1.5 USD
// withheld, at 1 GBP = 1.25 USD (1 USD = 0.8 GBP): 8 GBP gross, 1.2 GBP tax.
// In the base: fees 5, taxes 1.2, dividends 9.2. In GBP, the settlement
// currency: fees 5, taxes 0, dividends 1.2, and the USD dividend excluded.
func TestCalcLocalIncomeInAnotherCurrency(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "p.csv", "date,symbol,close\n2024-01-04,VUSA.L,7100\n")
	writeFile(t, ".", "fx.csv", "2024-01-02,GBP,USD,1.25\n")
	writeFile(t, ".", "a.json", `{"activities":[
{"date":"2024-01-02","type":"BUY","symbol":"VUSA.L","quantity":"10","unitPrice":"7000","fee":"500","currency":"GBp"},
{"date":"2024-01-03","type":"DIVIDEND","symbol":"VUSA.L","amount":"120","currency":"GBp"},
{"date":"2024-01-04","type":"DIVIDEND","symbol":"VUSA.L","amount":"10","tax":"1.5","currency":"USD"}
]}`)
	code, out, errOut := runCLI(t, "calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx.csv", "--base-currency", "GBP")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var rep calcReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	h := rep.Holdings[0]
	got := strings.Join([]string{h.Fees, h.Taxes, h.Dividends, h.Local.Currency, h.Local.Fees, h.Local.Taxes, h.Local.Dividends, strconv.Itoa(h.Local.Excluded)}, " ")
	if want := "5 1.2 9.2 GBP 5 0 1.2 1"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
