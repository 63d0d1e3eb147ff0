package notifier

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// The weekly summary's outbox payload is the analytics job's
// WeeklySummaryMessage (shared/app/analyticsjob), decoded here by its JSON so
// that the notifier does not import the job: the fields below are those the
// e-mail shows, and any other field is ignored.
type weeklyPayload struct {
	Day        string `json:"day"`
	Portfolios []struct {
		PortfolioID  string       `json:"portfolioId"`
		Name         string       `json:"name"`
		BaseCurrency string       `json:"baseCurrency"`
		MarketValue  string       `json:"marketValue"`
		ValueChange  string       `json:"valueChange"`
		WeekReturn   metricJSON   `json:"weekReturn"`
		TWR          metricJSON   `json:"twr"`
		MaxDrawdown  metricJSON   `json:"maxDrawdown"`
		Best         *holdingJSON `json:"best"`
		Worst        *holdingJSON `json:"worst"`
	} `json:"portfolios"`
	Alerts []AlertPayload `json:"alerts"`
}

// metricJSON is analytics.Metric's JSON: {"value": 0.01} or {"value": null, "reason": "..."}.
type metricJSON struct {
	Value *float64 `json:"value"`
}

type holdingJSON struct {
	Symbol     string     `json:"symbol"`
	WeekReturn metricJSON `json:"weekReturn"`
}

// weeklyView is the weekly summary as the templates show it.
type weeklyView struct {
	Day        string
	Portfolios []weeklyPortfolio
	Alerts     []string
}

type weeklyPortfolio struct {
	Name        string
	MarketValue string
	ValueChange string
	WeekReturn  string
	TWR         string
	MaxDrawdown string
	Best, Worst string
}

func weekly(d Delivery) (weeklyView, error) {
	var p weeklyPayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return weeklyView{}, fmt.Errorf("weekly summary payload: %w", err)
	}
	v := weeklyView{Day: p.Day}
	for _, x := range p.Portfolios {
		name := x.Name
		if name == "" {
			name = "Portfolio " + x.PortfolioID
		}
		value := x.MarketValue
		if x.BaseCurrency != "" {
			value += " " + x.BaseCurrency
		}
		v.Portfolios = append(v.Portfolios, weeklyPortfolio{Name: name, MarketValue: value, ValueChange: x.ValueChange,
			WeekReturn: x.WeekReturn.percent(), TWR: x.TWR.percent(), MaxDrawdown: x.MaxDrawdown.percent(),
			Best: x.Best.line(), Worst: x.Worst.line()})
	}
	for _, a := range p.Alerts {
		v.Alerts = append(v.Alerts, headline(a))
	}
	return v, nil
}

func (m metricJSON) percent() string {
	if m.Value == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*m.Value*100, 'f', 2, 64) + "%"
}

func (h *holdingJSON) line() string {
	if h == nil || h.Symbol == "" {
		return ""
	}
	return h.Symbol + " " + h.WeekReturn.percent()
}
