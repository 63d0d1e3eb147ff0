package httpapi_test

// Regression tests for the holes an outside tester reproduced against the public
// API (issue 13): each fails on the code before its fix.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
)

// Hole 1: an alert rule may name only the caller's own portfolio; another
// user's is the same 404 as one that does not exist, whatever else the rule
// says.
func TestAlertRulesOnlyOnOwnPortfolios(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	victim := a.createPortfolio(bob, "bob-1")
	own := a.createPortfolio(alice, "alice-1")
	for _, body := range []string{
		`{"kind":"value_drop","portfolioId":"%s","threshold":"0.01","window":"1h"}`,
		`{"kind":"weight_drift","portfolioId":"%s","symbol":"AAPL","targetWeight":"0.5","threshold":"0.01"}`,
		`{"kind":"drawdown","portfolioId":"%s","threshold":"0.01"}`,
		`{"kind":"var_breach","portfolioId":"%s","threshold":"1"}`,
		`{"kind":"concentration","portfolioId":"%s","threshold":"0.1"}`,
		`{"kind":"drawdown","portfolioId":"%s","threshold":"-5"}`, // invalid too: ownership is decided first
	} {
		foreign := a.do(alice, "POST", "/alerts", strings.ReplaceAll(body, "%s", victim))
		unknown := a.do(alice, "POST", "/alerts", strings.ReplaceAll(body, "%s", "00000000-0000-4000-8000-000000000000"))
		a.expect(foreign, 404, "not_found")
		if foreign.raw != unknown.raw {
			t.Errorf("%s: a foreign portfolio answers %s, an unknown one %s", body, foreign.raw, unknown.raw)
		}
		if !strings.Contains(body, "-5") {
			a.expect(a.do(alice, "POST", "/alerts", strings.ReplaceAll(body, "%s", own)), 201, "")
		}
	}
}

// Hole 2: trade dates outside 1900-01-01 … a year from today are refused, by
// the transaction route and the importer alike.
func TestTradeDatesOutsideTheRangeAreRefused(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	id := a.createPortfolio(alice, "dates")
	for _, date := range []string{"0000-01-01", "0001-01-05", "1899-12-31", "9999-12-31"} {
		r := a.do(alice, "POST", "/portfolios/"+id+"/transactions",
			`{"type":"BUY","date":"`+date+`","symbol":"AAPL","quantity":"1","price":"10"}`)
		a.expect(r, 422, "validation_failed")
		imp := a.do(alice, "POST", "/portfolios/"+id+"/import",
			`{"activities":[{"type":"BUY","date":"`+date+`","symbol":"AAPL","quantity":1,"unitPrice":10,"currency":"USD"}]}`)
		if imp.status != 422 {
			t.Errorf("import dated %s: %d %s", date, imp.status, imp.raw)
		}
	}
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"BUY","date":"1900-01-01","symbol":"AAPL","quantity":"1","price":"10"}`), 201, "")
}

// Hole 3: a decimal's length and shape are checked before it is parsed, so a
// 1.9 MB threshold is refused on its length (it used to take seconds of
// big-integer parsing to refuse). BenchmarkHostileThreshold measures it.
func TestHugeDecimalsAreRefusedOnTheirLength(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	id := a.createPortfolio(alice, "huge")
	digits := strings.Repeat("9", 1_900_000)
	r := a.do(alice, "POST", "/alerts", `{"kind":"price_above","symbol":"AAPL","threshold":"`+digits+`"}`)
	a.expect(r, 422, "validation_failed")
	if !strings.Contains(r.raw, "longer than 40 characters") {
		t.Errorf("threshold refused for another reason: %s", r.raw)
	}
	r = a.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"`+digits+`","price":"10"}`)
	if r.status != 400 || !strings.Contains(r.raw, "longer than 40 characters") {
		t.Errorf("quantity: %d %.200s", r.status, r.raw)
	}
}

// Hole 4: ownership is decided first. On every portfolio route, a request on
// someone else's portfolio answers exactly what it answers for a portfolio that
// does not exist, however malformed its body, query or If-Match: no validation
// message, no version, no conflict.
func TestForeignPortfoliosAnswerAsUnknownOnEveryRoute(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	victim := a.createPortfolio(bob, "victim")
	a.expect(a.do(bob, "POST", "/portfolios/"+victim+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"10"}`), 201, "")
	const unknown = "00000000-0000-4000-8000-000000000000"
	const badQuery = "?limit=x&from=x&to=x&points=x&cursor=!!&after=x&benchmark=%3C"
	routes := 0
	for _, rt := range httpapi.New(httpapi.Config{}).Routes() {
		if !strings.Contains(rt.Path, "{id}") {
			continue
		}
		routes++
		path := func(id string) string {
			return strings.NewReplacer("{id}", id, "{txId}", "tx-1", "{suggestionId}", "s-1").Replace(rt.Path) + badQuery
		}
		for _, body := range []string{`{`, `{"type":"BUY","date":"0000-01-01","symbol":"AAPL","quantity":"1e9","price":"-1","reason":""}`} {
			foreign := a.do(alice, rt.Method, path(victim), body, "If-Match", `"999"`)
			missing := a.do(alice, rt.Method, path(unknown), body, "If-Match", `"999"`)
			if foreign.status != http.StatusNotFound || foreign.raw != missing.raw {
				t.Errorf("%s %s body %s: foreign %d %s, unknown %d %s", rt.Method, rt.Path, body, foreign.status, foreign.raw, missing.status, missing.raw)
			}
		}
	}
	if routes < 15 {
		t.Fatalf("only %d portfolio routes checked", routes)
	}
	// The owner still gets the real answer.
	r := a.do(bob, "POST", "/portfolios/"+victim+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"10"}`, "If-Match", `"999"`)
	a.expect(r, 409, "version_conflict")
}

// Hole 5: magnitudes and split ratios are bounded.
func TestUnboundedMagnitudesAreRefused(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	id := a.createPortfolio(alice, "splits")
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100"}`), 201, "")
	for _, body := range []string{
		`{"type":"SPLIT","date":"2024-02-01","symbol":"AAPL","ratio":"9223372036854775807:1"}`,
		`{"type":"SPLIT","date":"2024-02-01","symbol":"AAPL","ratio":"1:9223372036854775807"}`,
		`{"type":"BUY","date":"2024-01-03","symbol":"AAPL","quantity":"1000000000000000","price":"1"}`,
		`{"type":"BUY","date":"2024-01-03","symbol":"AAPL","quantity":"1","price":"1000000000000"}`,
		`{"type":"DEPOSIT","date":"2024-01-03","amount":"1000000000000000"}`,
	} {
		a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", body), 422, "validation_failed")
	}
	// Repeated splits within the ratio bound stop at the position bound.
	for i, want := range []int{201, 201, 422} {
		r := a.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"SPLIT","date":"2024-0`+string(rune('3'+i))+`-01","symbol":"AAPL","ratio":"1000000:1"}`)
		a.expect(r, want, "")
	}
}

// An Idempotency-Key replays its first answer only for the same request.
func TestIdempotencyKeyReusedForAnotherRequest(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	id := a.createPortfolio(alice, "idem")
	first := `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"10"}`
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", first, "Idempotency-Key", "tx-key"), 201, "")
	// The same request, spelled differently, is a retry.
	same := `{ "price":"10.00", "quantity":"1", "symbol":"AAPL", "date":"2024-01-02", "type":"BUY" }`
	r := a.do(alice, "POST", "/portfolios/"+id+"/transactions", same, "Idempotency-Key", "tx-key")
	a.expect(r, 200, "")
	if r.body["replayed"] != true {
		t.Fatalf("retry not replayed: %s", r.raw)
	}
	other := `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"500","price":"10"}`
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", other, "Idempotency-Key", "tx-key"), 422, "idempotency_key_reused")
	// And on another route.
	a.expect(a.do(alice, "PATCH", "/portfolios/"+id, `{"name":"x"}`, "Idempotency-Key", "tx-key"), 422, "idempotency_key_reused")
	a.expect(a.do(alice, "POST", "/portfolios", `{"name":"Other","baseCurrency":"EUR"}`, "Idempotency-Key", "idem"), 422, "idempotency_key_reused")
}

// Names and symbols may not hold bidi controls or zero-width characters.
func TestInvisibleCharactersInNamesAndSymbols(t *testing.T) {
	t.Parallel()
	a := newFullAPI(t)
	id := a.createPortfolio(alice, "names")
	a.expect(a.do(alice, "POST", "/portfolios", `{"name":"Main\u202e","baseCurrency":"USD"}`), 422, "validation_failed")
	a.expect(a.do(alice, "PATCH", "/portfolios/"+id, `{"name":"Ma\u200bin"}`), 422, "validation_failed")
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL\u200b","quantity":"1","price":"10"}`), 422, "validation_failed")
	a.expect(a.do(alice, "PUT", "/portfolios/"+id+"/targets", `{"targets":[{"symbol":"\u202eAAPL","weight":"1"}],"driftBand":"0.05"}`), 422, "validation_failed")
	a.expect(a.do(alice, "PUT", "/portfolios/"+id+"/settings", `{"benchmark":"SPY\u2066"}`), 422, "validation_failed")
	a.expect(a.do(alice, "POST", "/alerts", `{"kind":"price_above","symbol":"AAPL\u200d","threshold":"1"}`), 422, "validation_failed")
}
