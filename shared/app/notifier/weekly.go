package notifier

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The weekly summary's outbox payload is the analytics job's
// WeeklySummaryMessage (shared/app/analyticsjob), decoded here by its JSON so
// that the notifier does not import the job: the fields below are those the
// e-mail shows, and any other field is ignored.
type weeklyPayload struct {
	Day        string `json:"day"`  // the week's last day
	From       string `json:"from"` // the day before its first
	Portfolios []struct {
		PortfolioID  string        `json:"portfolioId"`
		Name         string        `json:"name"`
		BaseCurrency string        `json:"baseCurrency"`
		MarketValue  string        `json:"marketValue"`
		ValueChange  string        `json:"valueChange"`
		NetFlows     string        `json:"netFlows"`
		WeekReturn   metricJSON    `json:"weekReturn"`
		TWR          metricJSON    `json:"twr"`
		MaxDrawdown  metricJSON    `json:"maxDrawdown"`
		Best         []holdingJSON `json:"best"`
		Worst        []holdingJSON `json:"worst"`
		Drift        []struct {
			Symbol      string `json:"symbol"`
			Target      string `json:"target"`
			Actual      string `json:"actual"`
			OutsideBand bool   `json:"outsideBand"`
		} `json:"drift"`
	} `json:"portfolios"`
	Alerts []AlertPayload `json:"alerts"`
}

// metricJSON is analytics.Metric's JSON: {"value": 0.01} or {"value": null, "reason": "..."}.
type metricJSON struct {
	Value *float64 `json:"value"`
}

// holdingJSON is the job's HoldingWeek: a holding's week return, a fraction.
type holdingJSON struct {
	Symbol     string   `json:"symbol"`
	WeekReturn *float64 `json:"weekReturn"`
}

// weeklyView is the weekly summary as the templates show it.
type weeklyView struct {
	Day, From  string
	Portfolios []weeklyPortfolio
	Alerts     []string
}

type weeklyPortfolio struct {
	Name        string
	MarketValue string
	ValueChange string // with the currency, signed
	NetFlows    string // money put in (or taken out) during the week; "" when none
	WeekReturn  string
	TWR         string
	MaxDrawdown string
	Best, Worst string // "AAPL +5.00%, MSFT +1.20%"
	Drift       []string
}

func weekly(d Delivery) (weeklyView, error) {
	var p weeklyPayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return weeklyView{}, fmt.Errorf("weekly summary payload: %w", err)
	}
	v := weeklyView{Day: p.Day, From: p.From}
	for _, x := range p.Portfolios {
		name := x.Name
		if name == "" {
			name = "Portfolio " + x.PortfolioID
		}
		w := weeklyPortfolio{Name: name, MarketValue: withCurrency(x.MarketValue, x.BaseCurrency),
			WeekReturn: x.WeekReturn.percent(), TWR: x.TWR.percent(), MaxDrawdown: x.MaxDrawdown.percent(),
			Best: holdings(x.Best), Worst: holdings(x.Worst)}
		if x.ValueChange != "" {
			w.ValueChange = withCurrency(signed(x.ValueChange), x.BaseCurrency)
		}
		if x.NetFlows != "" && strings.Trim(x.NetFlows, "0.-") != "" {
			w.NetFlows = withCurrency(signed(x.NetFlows), x.BaseCurrency)
		}
		for _, dr := range x.Drift {
			if dr.OutsideBand {
				w.Drift = append(w.Drift, fmt.Sprintf("%s at %s of the portfolio, target %s", dr.Symbol, fractionText(dr.Actual), fractionText(dr.Target)))
			}
		}
		v.Portfolios = append(v.Portfolios, w)
	}
	for _, a := range p.Alerts {
		v.Alerts = append(v.Alerts, headline(a))
	}
	return v, nil
}

func withCurrency(amount, currency string) string {
	if currency == "" {
		return amount
	}
	return amount + " " + currency
}

func signed(amount string) string {
	if amount != "" && amount[0] != '-' && amount != "0" {
		return "+" + amount
	}
	return amount
}

// fractionText shows a decimal fraction ("0.25") as a percentage ("25.00%").
func fractionText(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
}

func (m metricJSON) percent() string {
	if m.Value == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*m.Value*100, 'f', 2, 64) + "%"
}

func holdings(hs []holdingJSON) string {
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		if h.Symbol == "" {
			continue
		}
		r := "n/a"
		if h.WeekReturn != nil {
			r = strconv.FormatFloat(*h.WeekReturn*100, 'f', 2, 64) + "%"
			if *h.WeekReturn > 0 {
				r = "+" + r
			}
		}
		parts = append(parts, h.Symbol+" "+r)
	}
	return strings.Join(parts, ", ")
}
