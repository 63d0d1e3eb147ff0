package pricing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

func quote() market.Quote {
	return market.Quote{Symbol: "AAPL", Price: decimal.RequireFromString("190.12"), Volume: decimal.NewFromInt(300),
		Timestamp: time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC), Exchange: "XNAS", Source: "finnhub",
		PreviousClose: decimal.RequireFromString("189.50")}
}

func TestRoundTripAndDeterministicID(t *testing.T) {
	e := pricing.FromQuote(quote())
	if e2 := pricing.FromQuote(quote()); e2.EventID != e.EventID || e.EventID == "" {
		t.Fatalf("event IDs %q %q", e.EventID, e2.EventID)
	}
	b, err := pricing.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventId":"` + e.EventID + `","eventType":"MarketDataUpdated","schemaVersion":1,"symbol":"AAPL","price":"190.12","volume":"300","timestamp":"2026-01-02T15:04:05.123Z","exchange":"XNAS","source":"finnhub","previousClose":"189.5"}`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	got, err := pricing.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Price.Equal(e.Price) || !got.PreviousClose.Equal(e.PreviousClose) || !got.Timestamp.Equal(e.Timestamp) || got.Symbol != "AAPL" || got.EventID != e.EventID {
		t.Fatalf("decoded %+v", got)
	}
	if got.PartitionKey() != "AAPL" {
		t.Fatal("partition key is not the symbol")
	}
	// previousClose is optional.
	q := quote()
	q.PreviousClose = decimal.Zero
	b, _ = pricing.Encode(pricing.FromQuote(q))
	if strings.Contains(string(b), "previousClose") {
		t.Fatalf("zero previous close encoded: %s", b)
	}
	if _, err := pricing.Decode(b); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRejects(t *testing.T) {
	base := `"eventId":"x","eventType":"MarketDataUpdated","schemaVersion":1,"symbol":"AAPL","volume":"1","timestamp":"2026-01-02T15:04:05Z","source":"s"`
	cases := map[string]struct{ doc, field string }{
		"not json":       {`garbage`, ""},
		"trailing":       {`{` + base + `,"price":"1"} {}`, ""},
		"unknown field":  {`{` + base + `,"price":"1","extra":1}`, ""},
		"missing price":  {`{` + base + `}`, "price"},
		"null price":     {`{` + base + `,"price":null}`, "price"},
		"number price":   {`{` + base + `,"price":1.5}`, ""},
		"exponent price": {`{` + base + `,"price":"1e3"}`, "price"},
		"zero price":     {`{` + base + `,"price":"0"}`, ""},
		"bad type":       {strings.Replace(`{`+base+`,"price":"1"}`, `"MarketDataUpdated"`, `"Other"`, 1), "eventType"},
		"bad version":    {strings.Replace(`{`+base+`,"price":"1"}`, `"schemaVersion":1`, `"schemaVersion":3`, 1), "schemaVersion"},
		"offset time":    {strings.Replace(`{`+base+`,"price":"1"}`, `05Z"`, `05+01:00"`, 1), "timestamp"},
		"bad prev close": {`{` + base + `,"price":"1","previousClose":"abc"}`, "previousClose"},
		"too big":        {`{` + base + `,"price":"1","exchange":"` + strings.Repeat("x", 5000) + `"}`, ""},
	}
	for name, c := range cases {
		_, err := pricing.Decode([]byte(c.doc))
		var de *pricing.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, pricing.ErrInvalidEvent) {
			t.Errorf("%s: err %v, want a *DecodeError", name, err)
			continue
		}
		if de.Field != c.field {
			t.Errorf("%s: field %q, want %q (%v)", name, de.Field, c.field, err)
		}
	}
	if _, err := pricing.Encode(pricing.MarketDataUpdated{Symbol: "AAPL"}); !errors.Is(err, pricing.ErrInvalidEvent) {
		t.Fatalf("encode of an invalid event: %v", err)
	}
}

// A tick in another currency than the dollar carries it, as schemaVersion 2;
// a London listing the provider gave no currency for is in pence; a version-1
// tick with a currency is refused (a reader of version 1 would refuse it).
func TestCurrencyNeedsVersion2(t *testing.T) {
	q := quote()
	q.Symbol = "VUSA.L"
	b, err := pricing.Encode(pricing.FromQuote(q))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"schemaVersion":2`) || !strings.Contains(string(b), `"currency":"GBp"`) {
		t.Fatalf("a London tick: %s", b)
	}
	got, err := pricing.Decode(b)
	if err != nil || got.Currency != "GBp" {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	v1 := strings.Replace(string(b), `"schemaVersion":2`, `"schemaVersion":1`, 1)
	if _, err := pricing.Decode([]byte(v1)); err == nil || !strings.Contains(err.Error(), "needs schemaVersion 2") {
		t.Fatalf("a version-1 tick with a currency: %v", err)
	}
	if b, _ := pricing.Encode(pricing.FromQuote(quote())); !strings.Contains(string(b), `"schemaVersion":1`) {
		t.Fatalf("a dollar tick is version 1: %s", b)
	}
}
