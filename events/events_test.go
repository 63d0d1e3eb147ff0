package eventschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	eventschema "github.com/portfoliotracker/tracker/events"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------- helpers

func newValidator(t *testing.T) *eventschema.Validator {
	t.Helper()
	v, err := eventschema.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// schemaFor returns the schema a file name (schema or sample) belongs to.
func schemaFor(t *testing.T, v *eventschema.Validator, name string) *jsonschema.Schema {
	t.Helper()
	f, ok := eventschema.ParseFileName(name)
	if !ok || f.EventType == "" {
		t.Fatalf("%s is not an event file name", name)
	}
	s, ok := v.Schema(f.EventType, f.Version)
	if !ok {
		t.Fatalf("%s: no schema %s", name, eventschema.SchemaFile(f.EventType, f.Version))
	}
	return s
}

func fileNames(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func readFile(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// instance parses JSON the way the validator does (numbers kept exact).
func instance(t *testing.T, b []byte) any {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return doc
}

// sameJSON reports whether two documents are equal as JSON values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(instance(t, a), instance(t, b))
}

// checkGoRoundTrip decodes b with the Go decoder and checks that encoding the
// result gives the same document back: nothing in b is dropped or reinterpreted.
func checkGoRoundTrip(t *testing.T, name string, b []byte) portfolio.Event {
	t.Helper()
	e, err := portfolio.DecodeEvent(b)
	if err != nil {
		t.Fatalf("%s: DecodeEvent: %v", name, err)
	}
	again, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("%s: marshal decoded event: %v", name, err)
	}
	if !sameJSON(t, b, again) {
		t.Errorf("%s: decode+encode changes the event\n in: %s\nout: %s", name, b, again)
	}
	return e
}

// ---------------------------------------------------------------- (a) schemas

func TestSchemasCompile(t *testing.T) {
	newValidator(t) // compiles every event schema
	c, err := eventschema.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fileNames(t, eventschema.Schemas()) {
		if _, err := c.Compile(eventschema.BaseURI + name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		var doc struct {
			Schema     string `json:"$schema"`
			ID         string `json:"$id"`
			Ref        string `json:"$ref"`
			Properties struct {
				EventType struct {
					Const string `json:"const"`
				} `json:"eventType"`
			} `json:"properties"`
			Defs struct {
				Envelope struct {
					Properties struct {
						SchemaVersion struct {
							Const int `json:"const"`
						} `json:"schemaVersion"`
					} `json:"properties"`
				} `json:"envelope"`
			} `json:"$defs"`
		}
		if err := json.Unmarshal(readFile(t, eventschema.Schemas(), name), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %q, want draft 2020-12", name, doc.Schema)
		}
		if want := eventschema.BaseURI + name; doc.ID != want {
			t.Errorf("%s: $id = %q, want %q", name, doc.ID, want)
		}
		f, _ := eventschema.ParseFileName(name)
		if f.EventType == "" {
			if got := doc.Defs.Envelope.Properties.SchemaVersion.Const; got != f.Version {
				t.Errorf("%s: envelope schemaVersion const = %d, want %d (the file's version)", name, got, f.Version)
			}
			continue
		}
		if want := fmt.Sprintf("common.v%d.json#/$defs/envelope", f.Version); doc.Ref != want {
			t.Errorf("%s: $ref = %q, want %q", name, doc.Ref, want)
		}
		if doc.Properties.EventType.Const != f.EventType {
			t.Errorf("%s: eventType const = %q, want %q", name, doc.Properties.EventType.Const, f.EventType)
		}
	}
}

// ---------------------------------------------------------------- (b), (c) samples

func TestSamplesMatchSchemasAndDecode(t *testing.T) {
	v := newValidator(t)
	for _, name := range fileNames(t, eventschema.Samples()) {
		t.Run(name, func(t *testing.T) {
			b := readFile(t, eventschema.Samples(), name)
			f, _ := eventschema.ParseFileName(name)
			if err := schemaFor(t, v, name).Validate(instance(t, b)); err != nil {
				t.Fatalf("schema: %v", err)
			}
			if err := v.Validate(b); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if slices.Contains(eventschema.Derived, f.EventType) {
				checkDerivedRoundTrip(t, name, b)
				return
			}
			e := checkGoRoundTrip(t, name, b)
			if e.EventType != f.EventType || e.SchemaVersion != f.Version {
				t.Errorf("decoded %s v%d, file name says %s v%d", e.EventType, e.SchemaVersion, f.EventType, f.Version)
			}
			checkLinks(t, e)
		})
	}
}

// checkLinks verifies what the schemas cannot express: cross-field links.
func checkLinks(t *testing.T, e portfolio.Event) {
	t.Helper()
	switch d := e.Data.(type) {
	case *portfolio.TransactionRecorded:
		if d.ID != e.EventID {
			t.Errorf("version %d: transactionId %q != eventId %q", e.Version, d.ID, e.EventID)
		}
		if err := d.Validate(); err != nil {
			t.Errorf("version %d: %v", e.Version, err)
		}
	case *portfolio.TransactionVoided:
		if d.Voided.ID != d.TransactionID {
			t.Errorf("version %d: voided.transactionId %q != transactionId %q", e.Version, d.Voided.ID, d.TransactionID)
		}
		if err := d.Voided.Validate(); err != nil {
			t.Errorf("version %d: voided: %v", e.Version, err)
		}
	case *portfolio.TargetAllocationSet:
		if err := d.Validate(); err != nil {
			t.Errorf("version %d: %v", e.Version, err)
		}
	case *portfolio.AnalyticsSettingsChanged:
		if err := d.Validate(); err != nil {
			t.Errorf("version %d: %v", e.Version, err)
		}
	}
}

// The samples tell one portfolio's story; folding them in version order proves
// they are a history the aggregate accepts, not just well-formed documents.
func TestSamplesFoldIntoOnePortfolio(t *testing.T) {
	var evs []portfolio.Event
	for _, name := range fileNames(t, eventschema.Samples()) {
		if f, _ := eventschema.ParseFileName(name); slices.Contains(eventschema.Derived, f.EventType) {
			continue
		}
		e, err := portfolio.DecodeEvent(readFile(t, eventschema.Samples(), name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		evs = append(evs, e)
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Version < evs[j].Version })
	var p portfolio.Portfolio
	for _, e := range evs {
		if err := p.Apply(e); err != nil {
			t.Fatalf("Apply %s version %d: %v", e.EventType, e.Version, err)
		}
		if e.AggregateID != evs[0].AggregateID || e.UserID != evs[0].UserID {
			t.Errorf("version %d belongs to another aggregate or user", e.Version)
		}
	}
	if !p.Archived() || p.Name() != "Long-term growth" || p.TransactionCount() != 12 {
		t.Errorf("after the samples: archived %v, name %q, %d transactions; want true, Long-term growth, 12 (9 + 2 foreign + an import of 2 - 1 voided)",
			p.Archived(), p.Name(), p.TransactionCount())
	}
	if q, _ := p.Quantity("NVDA"); q.String() != "70" {
		t.Errorf("NVDA quantity = %s, want 70 (10, split 10:1, sell 30)", q)
	}
}

// ---------------------------------------------------------------- (d) the Go writer

var t0 = time.Date(2026, 3, 2, 16, 4, 5, 123456789, time.FixedZone("CET", 3600))

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

type writer struct {
	t    *testing.T
	user string
	cmd  int
}

func (w *writer) meta() portfolio.Meta {
	w.cmd++
	return portfolio.Meta{
		UserID:        w.user,
		CorrelationID: fmt.Sprintf("req-%d", w.cmd),
		CausationID:   portfolio.NewID(),
		Now:           t0.Add(time.Duration(w.cmd) * time.Minute),
	}
}

func (w *writer) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// transactionsByType has at least one transaction per type, in an order the
// aggregate accepts (holdings exist before they are sold). Some carry the
// optional fields (fee, tax, note, a symbol on INTEREST and FEE) and awkward
// decimals (many places, tiny and large values).
func transactionsByType() []portfolio.Transaction {
	return []portfolio.Transaction{
		{Type: portfolio.Deposit, Date: day("2024-01-02"), Amount: dec("100000"), Currency: "EUR", Note: "Opening transfer"},
		{Type: portfolio.Buy, Date: day("2024-01-03"), Symbol: "ASML.AS", Quantity: dec("10"), Price: dec("612.4"), Fee: dec("4.9"), Currency: "EUR"},
		{Type: portfolio.Buy, Date: day("2024-01-03"), Symbol: "IWDA", Quantity: dec("0.123456789"), Price: dec("85.0001"), Currency: "EUR"},
		{Type: portfolio.Buy, Date: day("2024-01-04"), Symbol: "PENNY", Quantity: dec("2500000"), Price: dec("0.0001"), Fee: dec("1"), Tax: dec("0.12"), Currency: "EUR"},
		{Type: portfolio.Split, Date: day("2024-02-01"), Symbol: "ASML.AS", Ratio: portfolio.Ratio{New: 4, Old: 1}, Currency: "EUR"},
		{Type: portfolio.Split, Date: day("2024-02-01"), Symbol: "PENNY", Ratio: portfolio.Ratio{New: 1, Old: 3}, Currency: "EUR", Note: "1-for-3 reverse split"},
		{Type: portfolio.Sell, Date: day("2024-02-05"), Symbol: "ASML.AS", Quantity: dec("15.5"), Price: dec("180.25"), Fee: dec("2.5"), Tax: dec("30.75"), Currency: "EUR"},
		{Type: portfolio.Sell, Date: day("2024-02-06"), Symbol: "PENNY", Quantity: dec("833333.333333333333"), Price: dec("0.0003"), Currency: "EUR"},
		{Type: portfolio.Dividend, Date: day("2024-04-26"), Symbol: "ASML.AS", Amount: dec("38.72"), Tax: dec("5.81"), Currency: "EUR"},
		{Type: portfolio.Interest, Date: day("2024-04-30"), Amount: dec("12.03"), Currency: "EUR"},
		{Type: portfolio.Interest, Date: day("2024-04-30"), Symbol: "DE0001102580", Amount: dec("125"), Currency: "EUR", Note: "Bund coupon"},
		{Type: portfolio.Fee, Date: day("2024-04-30"), Amount: dec("2.5"), Currency: "EUR", Note: "Custody fee"},
		{Type: portfolio.Fee, Date: day("2024-05-02"), Symbol: "IWDA", Amount: dec("0.01"), Tax: dec("0.002"), Currency: "EUR"},
		{Type: portfolio.Withdrawal, Date: day("2024-05-03"), Amount: dec("5000"), Fee: dec("0.5"), Currency: "EUR"},
		// Foreign transactions, each with the rate of its date (EUR per unit of
		// its settlement currency), and conversions out of and into the base.
		{Type: portfolio.Conversion, Date: day("2024-05-06"), Amount: dec("2000"), ToAmount: dec("2151.9"), ToCurrency: "USD", Fee: dec("1"), Currency: "EUR"},
		{Type: portfolio.Buy, Date: day("2024-05-07"), Symbol: "AAPL", Quantity: dec("5"), Price: dec("182.4"), Fee: dec("1"), Currency: "USD", FXRate: dec("0.9285")},
		{Type: portfolio.Buy, Date: day("2024-05-07"), Symbol: "VUSA.L", Quantity: dec("12"), Price: dec("8125.5"), Currency: "GBp", FXRate: dec("1.1634")},
		{Type: portfolio.Dividend, Date: day("2024-05-16"), Symbol: "AAPL", Amount: dec("1.25"), Tax: dec("0.19"), Currency: "USD", FXRate: dec("0.9201")},
		{Type: portfolio.Conversion, Date: day("2024-05-20"), Amount: dec("500"), ToAmount: dec("460.25"), ToCurrency: "EUR", Currency: "USD"},
	}
}

// writtenEvents drives the real aggregate through every command and returns
// every event it emits.
func writtenEvents(t *testing.T) []portfolio.Event {
	w := &writer{t: t, user: portfolio.NewID()}
	p, err := portfolio.Create(portfolio.NewID(), portfolio.CreatePortfolio{
		Name: "  Euro portfolio ", Description: "ETFs, a few stocks\nand a bond", BaseCurrency: "EUR", LotMethod: portfolio.AverageCost,
	}, w.meta())
	w.must(err)

	txs := transactionsByType()
	var recorded []portfolio.Transaction
	for _, tx := range txs[:3] {
		got, err := p.RecordTransaction(tx, w.meta())
		w.must(err)
		recorded = append(recorded, got)
	}
	// The rest as one import: several events under one command.
	got, err := p.RecordTransactions(txs[3:], w.meta())
	w.must(err)
	recorded = append(recorded, got...)

	// A command without correlation or causation IDs still writes both (empty).
	m := w.meta()
	m.CorrelationID, m.CausationID = "", ""
	_, err = p.RecordTransaction(portfolio.Transaction{Type: portfolio.Buy, Date: day("2024-06-03"), Symbol: "VWCE", Quantity: dec("3"), Price: dec("112.08"), Currency: "EUR"}, m)
	w.must(err)

	// An import: one event for several transactions.
	_, err = p.ImportTransactions([]portfolio.Transaction{
		{Type: portfolio.Buy, Date: day("2024-06-04"), Symbol: "VWCE", Quantity: dec("2"), Price: dec("112.5"), Fee: dec("1"), Currency: "EUR"},
		{Type: portfolio.Interest, Date: day("2024-06-30"), Amount: dec("0.42"), Currency: "EUR"},
	}, w.meta())
	w.must(err)

	// An import with a foreign row: schema version 2 for the whole event.
	_, err = p.ImportTransactions([]portfolio.Transaction{
		{Type: portfolio.Interest, Date: day("2024-06-30"), Amount: dec("0.42"), Currency: "EUR"},
		{Type: portfolio.Interest, Date: day("2024-06-30"), Amount: dec("1.07"), Currency: "USD", FXRate: dec("0.9341")},
	}, w.meta())
	w.must(err)

	w.must(p.VoidTransaction(recorded[8].ID, "Dividend booked twice", w.meta()))    // DIVIDEND
	w.must(p.VoidTransaction(recorded[17].ID, "Paid to another account", w.meta())) // DIVIDEND in USD: version 2
	w.must(p.VoidTransaction(recorded[2].ID, "  Wrong instrument ", w.meta()))      // BUY IWDA, never sold
	w.must(p.VoidTransaction(recorded[5].ID, "Split entered by mistake", w.meta())) // SPLIT of PENNY
	w.must(p.SetTargets(portfolio.TargetAllocation{
		Targets: []portfolio.Target{
			{Symbol: "VWCE", Weight: dec("0.7")}, {Symbol: "ASML.AS", Weight: dec("0.25")},
			{Symbol: "DE0001102580", Weight: dec("0.05")}, {Symbol: "PENNY", Weight: decimal.Zero},
		},
		DriftBand: dec("0.025"),
	}, w.meta()))
	w.must(p.SetTargets(portfolio.TargetAllocation{Targets: []portfolio.Target{{Symbol: "VWCE", Weight: dec("1")}}, DriftBand: dec("0.1")}, w.meta()))
	w.must(p.ChangeAnalyticsSettings(portfolio.AnalyticsSettings{Benchmark: " IWDA.AS", WholeShares: true, MinTradeValue: dec("25.50")}, w.meta()))
	w.must(p.ChangeAnalyticsSettings(portfolio.DefaultAnalyticsSettings(), w.meta()))
	w.must(p.ChangeDetails("Euro portfolio", "", w.meta()))
	w.must(p.ChangeDetails("Euro core", "Long-term, rebalanced yearly", w.meta()))
	w.must(p.Archive("", w.meta()))
	all := slices.Clone(p.Pending())

	// A second portfolio: the default lot method, and an archive with a reason.
	q, err := portfolio.Create("pf-"+strings.Repeat("x", 61), portfolio.CreatePortfolio{Name: "Ünïcödé 📈", BaseCurrency: "JPY"}, w.meta())
	w.must(err)
	w.must(q.Archive(" Duplicate of the main portfolio ", w.meta()))
	return append(all, q.Pending()...)
}

func TestAggregateEventsMatchSchemas(t *testing.T) {
	v := newValidator(t)
	evs := writtenEvents(t)
	types := map[string]int{}
	txTypes := map[portfolio.TxType]int{}
	written := map[string]bool{} // schema files the writer stamps
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s version %d", e.EventType, e.Version)
		sch, ok := v.Schema(e.EventType, e.SchemaVersion)
		if !ok {
			t.Fatalf("%s: no schema %s", name, eventschema.SchemaFile(e.EventType, e.SchemaVersion))
		}
		if err := sch.Validate(instance(t, b)); err != nil {
			t.Errorf("%s: the Go writer's event fails its schema: %v\n%s", name, err, b)
		}
		if want := portfolio.SchemaVersionOf(e.Data); e.SchemaVersion != want {
			t.Errorf("%s: schemaVersion %d, want %d (the lowest that carries it)", name, e.SchemaVersion, want)
		}
		checkGoRoundTrip(t, name, b)
		written[eventschema.SchemaFile(e.EventType, e.SchemaVersion)] = true
		types[e.EventType]++
		if d, ok := e.Data.(*portfolio.TransactionRecorded); ok {
			txTypes[d.Type]++
		}
	}
	for _, typ := range portfolio.EventTypes {
		if types[typ] == 0 {
			t.Errorf("no %s event written: extend writtenEvents", typ)
		}
	}
	for _, typ := range portfolio.TxTypes {
		if txTypes[typ] == 0 {
			t.Errorf("no %s transaction recorded: extend transactionsByType", typ)
		}
	}
	// Every schema the writer stamps has a sample, and the writer stamps both
	// versions: single-currency events stay at 1.
	sampled := map[string]bool{}
	for _, name := range fileNames(t, eventschema.Samples()) {
		f, _ := eventschema.ParseFileName(name)
		sampled[eventschema.SchemaFile(f.EventType, f.Version)] = true
	}
	for file := range written {
		if !sampled[file] {
			t.Errorf("the writer writes %s events, but samples/ has none", file)
		}
	}
	for _, typ := range []string{portfolio.TypeTransactionRecorded, portfolio.TypeTransactionVoided, portfolio.TypeTransactionsImported} {
		for version := 1; version <= portfolio.SchemaVersion; version++ {
			if !written[eventschema.SchemaFile(typ, version)] {
				t.Errorf("no %s written: extend writtenEvents", eventschema.SchemaFile(typ, version))
			}
		}
	}
}

// Random decimals through the real writer: every scale and magnitude that
// shopspring/decimal prints must match the decimal patterns.
func TestAggregateRandomDecimalsMatchSchemas(t *testing.T) {
	v := newValidator(t)
	rng := rand.New(rand.NewPCG(1, 2))
	positive := func() decimal.Decimal {
		// 1 to 18 significant digits, exponent -12 to +6, within the domain's
		// bounds (below 10^11 here, so that the buys add up below MaxQuantity).
		for {
			digits := max(rng.Int64N(int64(1e18))>>rng.IntN(60), 1)
			if d := decimal.New(digits, int32(6-rng.IntN(19))); d.LessThan(decimal.New(1, 11)) {
				return d
			}
		}
	}
	w := &writer{t: t, user: "user-1"}
	p, err := portfolio.Create("pf-rand", portfolio.CreatePortfolio{Name: "Random", BaseCurrency: "USD"}, w.meta())
	w.must(err)
	p.MarkCommitted()
	types := []portfolio.TxType{portfolio.Buy, portfolio.Dividend, portfolio.Interest, portfolio.Fee, portfolio.Deposit, portfolio.Withdrawal}
	for i := range 400 {
		tx := portfolio.Transaction{Type: types[i%len(types)], Date: day("2024-01-01").AddDays(i), Currency: "USD"}
		switch tx.Type {
		case portfolio.Buy:
			tx.Symbol, tx.Quantity, tx.Price = "SYM", positive(), positive()
		case portfolio.Dividend:
			tx.Symbol, tx.Amount = "SYM", positive()
		default:
			tx.Amount = positive()
		}
		if rng.IntN(2) == 0 {
			tx.Fee = positive()
		}
		if rng.IntN(3) == 0 {
			tx.Tax = positive()
		}
		if _, err := p.RecordTransaction(tx, w.meta()); err != nil {
			t.Fatalf("record %+v: %v", tx, err)
		}
	}
	for _, e := range p.Pending() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		sch, ok := v.Schema(e.EventType, e.SchemaVersion)
		if !ok {
			t.Fatalf("version %d: no schema %s", e.Version, eventschema.SchemaFile(e.EventType, e.SchemaVersion))
		}
		if err := sch.Validate(instance(t, b)); err != nil {
			t.Fatalf("version %d fails its schema: %v\n%s", e.Version, err, b)
		}
	}
}

// ---------------------------------------------------------------- (e) negative cases

type violation struct{ at, keyword string }

// violations lists the leaf errors of a validation failure: where in the
// instance, and which keyword ("false" for a false schema).
func violations(err error) []violation {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []violation
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			kw := "false"
			if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
				kw = p[len(p)-1]
			}
			at := ""
			for _, s := range e.InstanceLocation {
				at += "/" + s
			}
			out = append(out, violation{at, kw})
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

type doc = map[string]any

func data(m doc) doc { return m["data"].(doc) }

// Outcomes of a mutated sample.
const (
	accepts = "accepts"
	rejects = "rejects"
)

type mutation struct {
	name   string
	sample string
	mutate func(doc)
	// schema is "accepts" or the violation the schema must report, as
	// "<instance location> <keyword>".
	schema string
	// decoder is what portfolio.DecodeEvent does today. Where it differs from the
	// schema, gap says why; the lead decides which side moves. If the decoder
	// changes, this table must be updated with it.
	decoder string
	gap     string
}

var mutations = []mutation{
	// The cases both sides reject.
	{name: "missing eventId", sample: "PortfolioCreated.v1.json", mutate: func(m doc) { delete(m, "eventId") }, schema: " required", decoder: rejects},
	{name: "empty userId", sample: "PortfolioCreated.v1.json", mutate: func(m doc) { m["userId"] = "" }, schema: "/userId minLength", decoder: rejects},
	{name: "missing timestamp", sample: "PortfolioArchived.v1.json", mutate: func(m doc) { delete(m, "timestamp") }, schema: " required", decoder: rejects},
	{name: "unknown eventType", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["eventType"] = "TransactionAmended" }, schema: "/eventType const", decoder: rejects},
	{name: "other aggregateType", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["aggregateType"] = "Account" }, schema: "/aggregateType const", decoder: rejects},
	{name: "future schemaVersion", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["schemaVersion"] = json.Number("3") }, schema: "/schemaVersion const", decoder: rejects},
	{name: "eventVersion 0", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["eventVersion"] = json.Number("0") }, schema: "/eventVersion minimum", decoder: rejects},
	{name: "eventVersion as a string", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["eventVersion"] = "3" }, schema: "/eventVersion type", decoder: rejects},
	{name: "data null", sample: "PortfolioArchived.v1.json", mutate: func(m doc) { m["data"] = nil }, schema: "/data type", decoder: rejects},
	{name: "unknown data field", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["broker"] = "IBKR" }, schema: "/data additionalProperties", decoder: rejects},
	{name: "unknown field in voided", sample: "TransactionVoided.v1.json", mutate: func(m doc) { data(m)["voided"].(doc)["exchange"] = "XNAS" }, schema: "/data/voided additionalProperties", decoder: rejects},
	{name: "unknown field in a target", sample: "TargetAllocationSet.v1.json", mutate: func(m doc) { data(m)["targets"].([]any)[0].(doc)["min"] = "0.1" }, schema: "/data/targets/0 additionalProperties", decoder: rejects},
	{name: "impossible date", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["date"] = "2023-02-29" }, schema: "/data/date format", decoder: rejects},
	{name: "date with slashes", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["date"] = "2024/06/03" }, schema: "/data/date format", decoder: rejects},
	{name: "ratio with a zero side", sample: "TransactionRecorded.split.v1.json", mutate: func(m doc) { data(m)["ratio"] = "0:1" }, schema: "/data/ratio pattern", decoder: rejects},
	{name: "ratio not N:D", sample: "TransactionRecorded.split.v1.json", mutate: func(m doc) { data(m)["ratio"] = "10/1" }, schema: "/data/ratio pattern", decoder: rejects},

	// The schema rejects what the decoder accepts: DecodeEventData checks the
	// shape Go can represent, not Transaction.Validate or the enums.
	{name: "quantity as a number", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["quantity"] = json.Number("10") }, schema: "/data/quantity type", decoder: accepts,
		gap: "shopspring/decimal's UnmarshalJSON accepts unquoted numbers"},
	{name: "quantity null", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["quantity"] = nil }, schema: "/data/quantity type", decoder: rejects},
	{name: "unknown transaction type", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["type"] = "GIFT" }, schema: "/data/type enum", decoder: rejects},
	{name: "lower-case currency", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["currency"] = "usd" }, schema: "/data/currency pattern", decoder: rejects},
	{name: "lower-case base currency", sample: "PortfolioCreated.v1.json", mutate: func(m doc) { data(m)["baseCurrency"] = "usd" }, schema: "/data/baseCurrency pattern", decoder: rejects},
	{name: "unknown lot method", sample: "PortfolioCreated.v1.json", mutate: func(m doc) { data(m)["lotMethod"] = "LIFO" }, schema: "/data/lotMethod enum", decoder: rejects},
	{name: "negative quantity", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["quantity"] = "-10" }, schema: "/data/quantity pattern", decoder: rejects},
	{name: "BUY without price", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { delete(data(m), "price") }, schema: "/data required", decoder: rejects},
	{name: "ratio on a BUY", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["ratio"] = "2:1" }, schema: "/data/ratio false", decoder: rejects},
	{name: "missing currency", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { delete(data(m), "currency") }, schema: "/data required", decoder: rejects},
	{name: "toCurrency on a BUY", sample: "TransactionRecorded.foreign.v2.json", mutate: func(m doc) { data(m)["toCurrency"] = "EUR" }, schema: "/data/toCurrency false", decoder: rejects},
	{name: "CONVERSION without toAmount", sample: "TransactionRecorded.conversion.v2.json", mutate: func(m doc) { delete(data(m), "toAmount") }, schema: "/data required", decoder: rejects},
	{name: "CONVERSION from a quote unit", sample: "TransactionRecorded.conversion.v2.json", mutate: func(m doc) { data(m)["currency"] = "GBp" }, schema: "/data/currency pattern", decoder: rejects},
	{name: "quote unit in lower case", sample: "TransactionRecorded.foreign.v2.json", mutate: func(m doc) { data(m)["currency"] = "gbp" }, schema: "/data/currency pattern", decoder: rejects},
	{name: "negative fxRate", sample: "TransactionRecorded.foreign.v2.json", mutate: func(m doc) { data(m)["fxRate"] = "-1.2" }, schema: "/data/fxRate pattern", decoder: rejects},

	// Version 1 knows none of the multi-currency fields (version 2 does; the
	// v2 samples stamped 1 are in TestLaterVersionsReadEarlierEvents).
	{name: "v1 with an fxRate", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["fxRate"] = "0.9285" }, schema: "/data additionalProperties", decoder: rejects},
	{name: "v1 with toCurrency", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["toCurrency"] = "EUR" }, schema: "/data additionalProperties", decoder: rejects},
	{name: "v1 in pence", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["currency"] = "GBp" }, schema: "/data/currency pattern", decoder: rejects},
	{name: "missing transactionId", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { delete(data(m), "transactionId") }, schema: "/data required", decoder: rejects},
	{name: "field name in another case", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { d := data(m); d["Quantity"] = d["quantity"]; delete(d, "quantity") },
		schema: "/data additionalProperties", decoder: accepts,
		gap: "encoding/json matches field names case-insensitively, so DisallowUnknownFields lets \"Quantity\" through"},
	{name: "timestamp not in UTC", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["timestamp"] = "2024-06-03T16:31:27.286+02:00" }, schema: "/timestamp pattern", decoder: rejects},
	{name: "ratio with a leading zero", sample: "TransactionRecorded.split.v1.json", mutate: func(m doc) { data(m)["ratio"] = "010:1" }, schema: "/data/ratio pattern", decoder: rejects},
	{name: "ratio with trailing text", sample: "TransactionRecorded.split.v1.json", mutate: func(m doc) { data(m)["ratio"] = "4:1:2" }, schema: "/data/ratio pattern", decoder: rejects},
	{name: "drift band of 1", sample: "TargetAllocationSet.v1.json", mutate: func(m doc) { data(m)["driftBand"] = "1" }, schema: "/data/driftBand pattern", decoder: rejects},

	// The schema accepts.
	{name: "storage attribute beside the envelope", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["version"] = m["eventVersion"] }, schema: accepts, decoder: accepts},
	{name: "zero fee written out", sample: "TransactionRecorded.deposit.v1.json", mutate: func(m doc) { data(m)["fee"] = "0" }, schema: accepts, decoder: accepts},
	{name: "split ratio 1:1", sample: "TransactionRecorded.split.v1.json", mutate: func(m doc) { data(m)["ratio"] = "1:1" }, schema: accepts, decoder: rejects,
		gap: "Transaction.Validate refuses N = D, which a pattern cannot express"},
	{name: "v1 in GBX", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { data(m)["currency"] = "GBX" }, schema: accepts, decoder: rejects,
		gap: "the schema's currency is three capitals; the Go reader's version 1 takes ISO 4217 codes only, and GBX (pence) is a quote unit of version 2"},
	{name: "eventVersion 3.0", sample: "TransactionRecorded.v1.json", mutate: func(m doc) { m["eventVersion"] = json.Number("3.0") }, schema: accepts, decoder: rejects,
		gap: "JSON Schema's integer is any number with a zero fraction; Go's int64 refuses 3.0"},
}

func TestMutatedSamples(t *testing.T) {
	v := newValidator(t)
	var gaps []string
	for _, mu := range mutations {
		t.Run(mu.name, func(t *testing.T) {
			var m doc
			dec := json.NewDecoder(bytes.NewReader(readFile(t, eventschema.Samples(), mu.sample)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			mu.mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}

			err = schemaFor(t, v, mu.sample).Validate(instance(t, b))
			if mu.schema == accepts {
				if err != nil {
					t.Errorf("schema rejects: %v", err)
				}
			} else {
				at, kw, _ := strings.Cut(mu.schema, " ")
				if err == nil {
					t.Errorf("schema accepts, want a %q violation at %q", kw, at)
				} else if !slices.Contains(violations(err), violation{at, kw}) {
					t.Errorf("schema rejects, but not with %q at %q: %v", kw, at, err)
				}
				if err := v.Validate(b); err == nil {
					t.Errorf("Validator.Validate accepts what the schema rejects")
				}
			}

			_, err = portfolio.DecodeEvent(b)
			switch {
			case mu.decoder == rejects && err == nil:
				t.Errorf("portfolio.DecodeEvent accepts; this table says it rejects")
			case mu.decoder == rejects && !errors.Is(err, portfolio.ErrCorruptEvent):
				t.Errorf("portfolio.DecodeEvent: %v, want ErrCorruptEvent", err)
			case mu.decoder == accepts && err != nil:
				t.Errorf("portfolio.DecodeEvent now rejects (%v): the gap is closed, update this table", err)
			}
			if (mu.schema == accepts) != (mu.decoder == accepts) {
				gaps = append(gaps, fmt.Sprintf("%s: schema %s, decoder %s (%s)", mu.name, verdict(mu.schema), mu.decoder, mu.gap))
			}
		})
	}
	if len(gaps) > 0 {
		t.Logf("schema and Go decoder disagree on %d cases:\n  %s", len(gaps), strings.Join(gaps, "\n  "))
	}
}

func verdict(schema string) string {
	if schema == accepts {
		return accepts
	}
	return rejects
}

// ---------------------------------------------------------------- (f) inventory

func TestEveryEventTypeHasOneSchemaAndSamples(t *testing.T) {
	known := map[string]bool{}
	for _, typ := range slices.Concat(portfolio.EventTypes, eventschema.Derived) {
		known[typ] = true
	}
	schemas := map[string][]int{} // event type -> versions
	common := map[int]bool{}
	for _, name := range fileNames(t, eventschema.Schemas()) {
		f, ok := eventschema.ParseFileName(name)
		switch {
		case !ok || f.Variant != "":
			t.Errorf("schemas/%s: want <EventType>.v<N>.json or common.v<N>.json", name)
		case f.EventType == "":
			if !strings.HasPrefix(name, "common.") {
				t.Errorf("schemas/%s: unexpected shared-definitions file", name)
			}
			common[f.Version] = true
		case !known[f.EventType]:
			t.Errorf("schemas/%s: %s is not in portfolio.EventTypes or eventschema.Derived", name, f.EventType)
		case f.Version > portfolio.SchemaVersion:
			t.Errorf("schemas/%s: version above portfolio.SchemaVersion %d", name, portfolio.SchemaVersion)
		default:
			schemas[f.EventType] = append(schemas[f.EventType], f.Version)
		}
	}
	for v := 1; v <= portfolio.SchemaVersion; v++ {
		if !common[v] {
			t.Errorf("schemas/common.v%d.json is missing", v)
		}
	}
	samples := map[string]int{}
	for _, name := range fileNames(t, eventschema.Samples()) {
		f, ok := eventschema.ParseFileName(name)
		switch {
		case !ok || f.EventType == "":
			t.Errorf("samples/%s: want <EventType>[.<variant>].v<N>.json", name)
		case !slices.Contains(schemas[f.EventType], f.Version):
			t.Errorf("samples/%s: no schema %s", name, eventschema.SchemaFile(f.EventType, f.Version))
		default:
			samples[eventschema.SchemaFile(f.EventType, f.Version)]++
		}
	}
	// A stored event's type has a schema at every version up to the newest;
	// a derived event keeps its own version (shared/app/pricing.SchemaVersion).
	// Version 1 has a sample of every type; a later version's schemas are
	// covered by TestLaterVersionsReadEarlierEvents and by the samples of what
	// the writer stamps with it (TestAggregateEventsMatchSchemas).
	for _, typ := range slices.Concat(portfolio.EventTypes, eventschema.Derived) {
		last := portfolio.SchemaVersion
		if slices.Contains(eventschema.Derived, typ) {
			last = 1
		}
		for version := 1; version <= last; version++ {
			if n := countOf(schemas[typ], version); n != 1 {
				t.Errorf("%s: %d schema files, want exactly one (%s)", typ, n, eventschema.SchemaFile(typ, version))
			}
		}
		if samples[eventschema.SchemaFile(typ, 1)] == 0 {
			t.Errorf("%s: no sample in samples/", eventschema.SchemaFile(typ, 1))
		}
	}
}

func countOf(vs []int, v int) int {
	n := 0
	for _, x := range vs {
		if x == v {
			n++
		}
	}
	return n
}

// Most validators treat format as an annotation only. The patterns alone must
// still hold dates and timestamps to the shape the Go side reads.
func TestPatternsHoldWithoutFormatAssertion(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	for _, name := range fileNames(t, eventschema.Schemas()) {
		if err := c.AddResource(eventschema.BaseURI+name, instance(t, readFile(t, eventschema.Schemas(), name))); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile(eventschema.BaseURI + "TransactionRecorded.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	sample := readFile(t, eventschema.Samples(), "TransactionRecorded.v1.json")
	if err := sch.Validate(instance(t, sample)); err != nil {
		t.Fatalf("sample: %v", err)
	}
	cases := []struct{ field, value string }{
		{"date", "2024/06/03"}, {"date", "2024-13-01"}, {"date", "2024-06-32"}, {"date", "24-06-03"}, {"date", "2024-06-03T00:00:00Z"},
		{"timestamp", "2024-06-03 14:31:27Z"}, {"timestamp", "2024-06-03T14:31:27"}, {"timestamp", "2024-06-03T24:00:00Z"},
		{"timestamp", "2024-06-03t14:31:27z"}, {"timestamp", "0001-01-01T00:00:00Z"},
	}
	for _, tc := range cases {
		var m doc
		if err := json.Unmarshal(sample, &m); err != nil {
			t.Fatal(err)
		}
		if tc.field == "date" {
			data(m)["date"] = tc.value
		} else {
			m["timestamp"] = tc.value
		}
		b, _ := json.Marshal(m)
		if err := sch.Validate(instance(t, b)); err == nil {
			t.Errorf("%s %q: accepted without format assertion", tc.field, tc.value)
		}
	}
}

func TestValidateNamesNoSchemaForUnknownEvents(t *testing.T) {
	v := newValidator(t)
	for _, b := range []string{
		`{"eventType": "PortfolioRenamed", "schemaVersion": 1}`,
		`{"eventType": "PortfolioCreated", "schemaVersion": 99}`,
		`{"eventType": "PortfolioCreated"}`,
		`[]`,
	} {
		if err := v.Validate([]byte(b)); !errors.Is(err, eventschema.ErrNoSchema) {
			t.Errorf("Validate(%s) = %v, want ErrNoSchema", b, err)
		}
	}
	if err := v.Validate([]byte(`{`)); err == nil || errors.Is(err, eventschema.ErrNoSchema) {
		t.Errorf("Validate of broken JSON = %v", err)
	}
}

// A later schema version only adds: every sample, stamped with any later
// version, still passes that version's schema and the Go reader. The reverse
// fails: a sample that needs its version is refused by the schema and the Go
// reader of every earlier one.
func TestLaterVersionsReadEarlierEvents(t *testing.T) {
	v := newValidator(t)
	for _, name := range fileNames(t, eventschema.Samples()) {
		f, _ := eventschema.ParseFileName(name)
		if slices.Contains(eventschema.Derived, f.EventType) {
			continue
		}
		for version := 1; version <= portfolio.SchemaVersion; version++ {
			var m doc
			dec := json.NewDecoder(bytes.NewReader(readFile(t, eventschema.Samples(), name)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			m["schemaVersion"] = json.Number(fmt.Sprint(version))
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			schemaErr, decodeErr := v.Validate(b), error(nil)
			if _, err := portfolio.DecodeEvent(b); err != nil {
				decodeErr = err
			}
			if version >= f.Version {
				if schemaErr != nil || decodeErr != nil {
					t.Errorf("%s as v%d: schema %v, Go reader %v; want both to accept", name, version, schemaErr, decodeErr)
				}
				continue
			}
			if schemaErr == nil || errors.Is(schemaErr, eventschema.ErrNoSchema) {
				t.Errorf("%s as v%d: schema %v, want a violation", name, version, schemaErr)
			}
			if !errors.Is(decodeErr, portfolio.ErrCorruptEvent) || !strings.Contains(decodeErr.Error(), fmt.Sprintf("needs schemaVersion %d", f.Version)) {
				t.Errorf("%s as v%d: Go reader %v, want ErrCorruptEvent saying it needs schemaVersion %d", name, version, decodeErr, f.Version)
			}
		}
	}
}
