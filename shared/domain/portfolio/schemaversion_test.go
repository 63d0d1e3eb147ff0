package portfolio_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// foreignFixture is a USD portfolio with one event of each kind the
// multi-currency fields touch, and the schema version each must be written with.
func foreignFixture(t *testing.T) (*fixture, []int) {
	f := newFixture(t, portfolio.FIFO) // PortfolioCreated: 1
	want := []int{1}
	record := func(tx portfolio.Transaction, v int) portfolio.Transaction {
		t.Helper()
		want = append(want, v)
		return f.mustRecord(tx)
	}
	record(portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-02"), Amount: dec("10000"), Currency: "USD"}, 1)
	eur := record(portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-02"), Amount: dec("1000"), Currency: "EUR", FXRate: dec("1.1042")}, 2)
	record(portfolio.Transaction{Type: portfolio.Conversion, Date: d("2024-01-03"), Amount: dec("500"), ToAmount: dec("460"), ToCurrency: "EUR", Currency: "USD"}, 2)
	record(portfolio.Transaction{Type: portfolio.Buy, Date: d("2024-01-04"), Symbol: "VUSA.L", Quantity: dec("3"), Price: dec("8125.5"), Currency: "GBp", FXRate: dec("1.27")}, 2)
	// A split moves no money: a foreign share's split carries no rate, and its
	// ISO currency is one v1 already knew.
	record(portfolio.Transaction{Type: portfolio.Buy, Date: d("2024-01-04"), Symbol: "SAP.DE", Quantity: dec("2"), Price: dec("180"), Currency: "EUR", FXRate: dec("1.09")}, 2)
	record(portfolio.Transaction{Type: portfolio.Split, Date: d("2024-01-05"), Symbol: "SAP.DE", Ratio: portfolio.Ratio{New: 2, Old: 1}, Currency: "EUR"}, 1)
	usd := record(trade(portfolio.Buy, "2024-01-05", "AAPL", "1", "185"), 1)

	m := f.meta(alice)
	if _, err := f.p.ImportTransactions([]portfolio.Transaction{trade(portfolio.Buy, "2024-01-08", "AAPL", "1", "186")}, m); err != nil {
		t.Fatal(err)
	}
	want = append(want, 1)
	if _, err := f.p.ImportTransactions([]portfolio.Transaction{
		trade(portfolio.Buy, "2024-01-08", "AAPL", "1", "186"),
		{Type: portfolio.Dividend, Date: d("2024-01-09"), Symbol: "SAP.DE", Amount: dec("4.4"), Currency: "EUR", FXRate: dec("1.095")},
	}, f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	want = append(want, 2)

	if err := f.p.VoidTransaction(usd.ID, "typo", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	want = append(want, 1)
	if err := f.p.VoidTransaction(eur.ID, "typo", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	want = append(want, 2)
	return f, want
}

func TestWriterStampsTheLowestSchemaVersion(t *testing.T) {
	f, want := foreignFixture(t)
	evs := f.p.Pending()
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, e := range evs {
		if e.SchemaVersion != want[i] || portfolio.SchemaVersionOf(e.Data) != want[i] {
			t.Errorf("version %d (%s): schemaVersion %d, SchemaVersionOf %d; want %d",
				e.Version, e.EventType, e.SchemaVersion, portfolio.SchemaVersionOf(e.Data), want[i])
		}
	}
}

// Every written event decodes at its own version and at any later one, and an
// event that needs version 2 is corrupt when stamped 1.
func TestReaderHoldsEachEventToItsVersion(t *testing.T) {
	f, want := foreignFixture(t)
	for i, e := range f.p.Pending() {
		for v := 1; v <= portfolio.SchemaVersion; v++ {
			e.SchemaVersion = v
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = portfolio.DecodeEvent(b)
			switch {
			case v >= want[i] && err != nil:
				t.Errorf("version %d (%s) as schemaVersion %d: %v", e.Version, e.EventType, v, err)
			case v < want[i] && !errors.Is(err, portfolio.ErrCorruptEvent):
				t.Errorf("version %d (%s) as schemaVersion %d: err = %v, want ErrCorruptEvent", e.Version, e.EventType, v, err)
			case v < want[i] && !strings.Contains(err.Error(), "needs schemaVersion 2"):
				t.Errorf("version %d (%s) as schemaVersion %d: %q does not say it needs schemaVersion 2", e.Version, e.EventType, v, err)
			}
			// Events built in memory are held to the same rule before they are stored.
			if err := e.CheckEnvelope(); (err == nil) != (v >= want[i]) {
				t.Errorf("version %d (%s) as schemaVersion %d: CheckEnvelope = %v", e.Version, e.EventType, v, err)
			}
		}
	}
}

// Each multi-currency field on its own makes a v1 transaction corrupt.
func TestV1TransactionRefusesEachMultiCurrencyField(t *testing.T) {
	base := `{"transactionId":"t1","type":"BUY","date":"2024-01-04","symbol":"VUSA.L","quantity":"3","price":"81.25","currency":"USD"}`
	cases := map[string]string{
		"fxRate":     strings.Replace(base, `"currency":"USD"`, `"currency":"USD","fxRate":"0.91"`, 1),
		"quote unit": strings.Replace(base, `"currency":"USD"`, `"currency":"GBp"`, 1),
		"CONVERSION": `{"transactionId":"t1","type":"CONVERSION","date":"2024-01-04","amount":"500","currency":"USD","toAmount":"460","toCurrency":"EUR"}`,
	}
	for name, raw := range cases {
		for _, typ := range []string{portfolio.TypeTransactionRecorded, portfolio.TypeTransactionsImported, portfolio.TypeTransactionVoided} {
			payload := raw
			switch typ {
			case portfolio.TypeTransactionsImported:
				payload = `{"transactions":[` + raw + `]}`
			case portfolio.TypeTransactionVoided:
				payload = `{"transactionId":"t1","reason":"typo","voided":` + raw + `}`
			}
			if _, err := portfolio.DecodeEventData(typ, 2, []byte(payload)); err != nil {
				t.Errorf("%s in %s v2: %v", name, typ, err)
			}
			_, err := portfolio.DecodeEventData(typ, 1, []byte(payload))
			if !errors.Is(err, portfolio.ErrCorruptEvent) || !strings.Contains(err.Error(), "needs schemaVersion 2") {
				t.Errorf("%s in %s v1: err = %v, want ErrCorruptEvent needing schemaVersion 2", name, typ, err)
			}
		}
	}
}

// Version 1 had no minor-units rule: a yen deposit with a fraction stored
// before it still loads; version 2 holds its events to it.
func TestV1PayloadKeepsItsRules(t *testing.T) {
	raw := []byte(`{"transactionId":"t1","type":"DEPOSIT","date":"2024-01-04","amount":"100.5","currency":"JPY"}`)
	if _, err := portfolio.DecodeEventData(portfolio.TypeTransactionRecorded, 1, raw); err != nil {
		t.Errorf("v1: %v", err)
	}
	if _, err := portfolio.DecodeEventData(portfolio.TypeTransactionRecorded, 2, raw); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Errorf("v2: err = %v, want ErrCorruptEvent", err)
	}
	for _, v := range []int{0, portfolio.SchemaVersion + 1} {
		if _, err := portfolio.DecodeEventData(portfolio.TypeTransactionRecorded, v, raw); !errors.Is(err, portfolio.ErrCorruptEvent) || !strings.Contains(err.Error(), "schemaVersion") {
			t.Errorf("schemaVersion %d: err = %v, want ErrCorruptEvent naming schemaVersion", v, err)
		}
	}
}
