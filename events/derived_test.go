package eventschema_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	eventschema "github.com/portfoliotracker/tracker/events"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// checkDerivedRoundTrip decodes a derived event's sample with its Go type and
// checks that encoding gives the same document back, and that the sample is
// what the Go writer produces for its data (derived event ID included).
func checkDerivedRoundTrip(t *testing.T, name string, b []byte) {
	t.Helper()
	var e pricing.PortfolioValueCalculated
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	again, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, b, again) {
		t.Errorf("%s: decode+encode changes the event\n in: %s\nout: %s", name, b, again)
	}
	want := pricing.ValueCalculated(e.Data, e.UserID, e.EventVersion, e.CausationID)
	if w, _ := json.Marshal(want); !sameJSON(t, b, w) {
		t.Errorf("%s: is not what pricing.ValueCalculated writes for its data:\n got: %s\nwant: %s", name, b, w)
	}
}

// The Go writer's PortfolioValueCalculated events pass their schema, across the
// shapes the consumer produces; the schema refuses what it must.
func TestPortfolioValueCalculatedFromGoMatchesSchema(t *testing.T) {
	v := newValidator(t)
	at := time.Date(2026, 3, 2, 15, 4, 5, 123456789, time.FixedZone("EST", -5*3600))
	d := decimal.RequireFromString
	for _, data := range []pricing.ValuationData{
		{PortfolioID: "p1", AsOf: at, Currency: "USD", MarketValue: d("19823.6"), CostBasis: d("16240.95"), UnrealizedPnL: d("3582.65")},
		{PortfolioID: "p2", AsOf: at.Add(time.Second), Currency: "EUR", MarketValue: d("0.000001"), CostBasis: d("12.5"), UnrealizedPnL: d("-12.499999"), Unpriced: []string{"BND", "XYZ.L"}},
		{PortfolioID: "p3", AsOf: at, Currency: "JPY", MarketValue: decimal.Zero, CostBasis: decimal.Zero, UnrealizedPnL: decimal.Zero, Unpriced: []string{"7203.T"}},
	} {
		e := pricing.ValueCalculated(data, "3e08b51c-5a9e-46b3-840d-26bad8bb28b3", 7, "")
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(b); err != nil {
			t.Errorf("%s: %v\n%s", data.PortfolioID, err, b)
		}
		if again := pricing.ValueCalculated(data, "3e08b51c-5a9e-46b3-840d-26bad8bb28b3", 7, ""); again.EventID != e.EventID {
			t.Errorf("%s: event ID not deterministic", data.PortfolioID)
		}
	}
	a := pricing.ValueCalculated(pricing.ValuationData{PortfolioID: "p1", AsOf: at, Currency: "USD"}, "u", 1, "")
	b := pricing.ValueCalculated(pricing.ValuationData{PortfolioID: "p1", AsOf: at.Add(time.Nanosecond), Currency: "USD"}, "u", 1, "")
	if a.EventID == b.EventID {
		t.Error("two instants, one event ID")
	}

	sample := readFile(t, eventschema.Samples(), "PortfolioValueCalculated.v1.json")
	for _, mu := range []struct {
		name   string
		mutate func(doc)
		want   violation
	}{
		{"negative market value", func(m doc) { data(m)["marketValue"] = "-1" }, violation{"/data/marketValue", "pattern"}},
		{"value as a number", func(m doc) { data(m)["costBasis"] = json.Number("5") }, violation{"/data/costBasis", "type"}},
		{"unpriced null", func(m doc) { data(m)["unpriced"] = nil }, violation{"/data/unpriced", "type"}},
		{"unknown data field", func(m doc) { data(m)["weights"] = doc{} }, violation{"/data", "additionalProperties"}},
		{"event ID not a UUID", func(m doc) { m["eventId"] = "val-1" }, violation{"/eventId", "format"}},
		{"missing asOf", func(m doc) { delete(data(m), "asOf") }, violation{"/data", "required"}},
	} {
		var m doc
		dec := json.NewDecoder(bytes.NewReader(sample))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		mu.mutate(m)
		b, _ := json.Marshal(m)
		err := v.Validate(b)
		if err == nil {
			t.Errorf("%s: accepted", mu.name)
			continue
		}
		found := false
		for _, got := range violations(err) {
			found = found || got == mu.want
		}
		if !found {
			t.Errorf("%s: %v, want %v", mu.name, violations(err), mu.want)
		}
	}
}
