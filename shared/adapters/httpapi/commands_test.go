package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

const (
	alice = "6c0a3f0e-5d1b-4f3e-9a7c-2b8e4d1f0a93"
	bob   = "0b7e2f41-3c9d-4a55-8e1f-7d2c6b9a4e10"
)

// api is the server under test, reached the way API Gateway reaches it.
type api struct {
	t       testing.TB
	handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

type response struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

func newCommandAPI(t *testing.T) *api {
	t.Helper()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(context.Background(), client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{Commands: command.New(store, command.Options{Logger: quiet}), Events: store, Queries: nil, Logger: quiet})
	return &api{t: t, handler: httplambda.Handler(srv)}
}

func (a *api) do(user, method, path, body string, headers ...string) response {
	a.t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		RawPath: strings.SplitN(path, "?", 2)[0], Body: body, Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-" + fmt.Sprint(rand.Int()), HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}},
	}
	if i := strings.Index(path, "?"); i >= 0 {
		req.RawQueryString = path[i+1:]
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Headers[strings.ToLower(headers[i])] = headers[i+1]
	}
	if user != "" {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"userId": user}}
	}
	// As the api function runs it: in its invocation's span when the
	// benchmarks trace (testenv.Tracing).
	res, err := lambdatrace.Wrap(testenv.Tracing(), "api", a.handler)(context.Background(), req)
	if err != nil {
		a.t.Fatalf("%s %s: handler error %v", method, path, err)
	}
	out := response{status: res.StatusCode, headers: res.Headers, raw: res.Body}
	_ = json.Unmarshal([]byte(res.Body), &out.body)
	return out
}

func (r response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

func (a *api) expect(r response, status int, code string) {
	a.t.Helper()
	if r.status != status || (code != "" && r.errorCode() != code) {
		a.t.Fatalf("status %d code %q, want %d %q; body %s", r.status, r.errorCode(), status, code, r.raw)
	}
	if r.status >= 400 {
		e, ok := r.body["error"].(map[string]any)
		if !ok || e["message"] == "" {
			a.t.Fatalf("error body lacks the {error:{code,message}} shape: %s", r.raw)
		}
	}
}

func (a *api) createPortfolio(user, key string) string {
	a.t.Helper()
	r := a.do(user, "POST", "/portfolios", `{"name":"Main","baseCurrency":"USD"}`, "Idempotency-Key", key)
	a.expect(r, 201, "")
	return r.data()["id"].(string)
}

func TestCreateIsIdempotentAndAnswersWithTheResource(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	r := a.do(alice, "POST", "/portfolios", `{"name":"Retirement","description":"IRA","baseCurrency":"EUR","lotMethod":"average"}`, "Idempotency-Key", "k-1")
	a.expect(r, 201, "")
	id := r.data()["id"].(string)
	if r.headers["Location"] != "/portfolios/"+id || r.headers["Etag"] != `"1"` || r.data()["lotMethod"] != "AVERAGE" || r.body["replayed"] != false {
		t.Fatalf("create answered %d %v %s", r.status, r.headers, r.raw)
	}
	again := a.do(alice, "POST", "/portfolios", `{"name":"Retirement","description":"IRA","baseCurrency":"EUR","lotMethod":"average"}`, "Idempotency-Key", "k-1")
	a.expect(again, 200, "")
	if again.data()["id"] != id || again.body["replayed"] != true {
		t.Fatalf("retry created another portfolio: %s", again.raw)
	}
}

func TestBadInputGetsAClear4xx(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-bad")
	base := "/portfolios/" + id + "/transactions"
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/portfolios", `{"name":`, nil, 400, "invalid_json"},
		{"not an object", "POST", "/portfolios", `[1,2]`, nil, 400, "invalid_json"},
		{"two values", "POST", "/portfolios", `{"name":"a","baseCurrency":"USD"}{}`, nil, 400, "invalid_json"},
		{"empty body", "POST", "/portfolios", ``, nil, 400, "invalid_json"},
		{"unknown field", "POST", "/portfolios", `{"name":"a","baseCurrency":"USD","colour":"red"}`, nil, 400, "invalid_json"},
		{"wrong type", "POST", "/portfolios", `{"name":5,"baseCurrency":"USD"}`, nil, 400, "invalid_json"},
		{"unknown currency", "POST", "/portfolios", `{"name":"a","baseCurrency":"XYZ"}`, nil, 422, "validation_failed"},
		{"bad lot method", "POST", "/portfolios", `{"name":"a","baseCurrency":"USD","lotMethod":"LIFO"}`, nil, 422, "validation_failed"},
		{"form body", "POST", "/portfolios", `name=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"too large", "POST", "/portfolios", `{"name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, nil, 413, "payload_too_large"},
		{"decimal as number", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":10,"price":"1"}`, nil, 400, "invalid_json"},
		{"decimal exponent", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1e3","price":"1"}`, nil, 400, "invalid_json"},
		{"unknown tx type", "POST", base, `{"type":"GIFT","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`, nil, 422, "validation_failed"},
		{"impossible date", "POST", base, `{"type":"BUY","date":"2024-02-30","symbol":"AAPL","quantity":"1","price":"1"}`, nil, 422, "validation_failed"},
		{"negative price", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"-1"}`, nil, 422, "validation_failed"},
		{"oversell", "POST", base, `{"type":"SELL","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`, nil, 422, "insufficient_holdings"},
		{"foreign currency without a rate", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"SAP","quantity":"1","price":"1","currency":"EUR"}`, nil, 422, "fx_rate_required"},
		{"bad ratio", "POST", base, `{"type":"SPLIT","date":"2024-01-02","symbol":"AAPL","ratio":"010:1"}`, nil, 422, "validation_failed"},
		{"bad idempotency key", "POST", base, `{}`, []string{"Idempotency-Key", "k\x01"}, 400, "bad_request"},
		{"bad If-Match", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`, []string{"If-Match", "banana"}, 400, "bad_request"},
		{"stale If-Match", "POST", base, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`, []string{"If-Match", `"0"`}, 409, "version_conflict"},
		{"targets not summing to 1", "PUT", "/portfolios/" + id + "/targets", `{"targets":[{"symbol":"A","weight":"0.5"}],"driftBand":"0.05"}`, nil, 422, "validation_failed"},
		{"empty update", "PATCH", "/portfolios/" + id, `{}`, nil, 400, "validation_failed"},
		{"unknown route", "GET", "/nope", ``, nil, 404, "not_found"},
		{"wrong method", "DELETE", "/portfolios", ``, nil, 405, "method_not_allowed"},
		{"bad limit", "GET", "/portfolios/" + id + "/events?limit=0", ``, nil, 400, "bad_request"},
		{"missing portfolio", "POST", "/portfolios/nope/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`, nil, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &api{t: t, handler: a.handler}
			a.expect(a.do(alice, c.method, c.path, c.body, c.headers...), c.status, c.code)
		})
	}
	a.expect(a.do("", "GET", "/portfolios/"+id+"/events", ""), 401, "unauthorized")
}

func TestTransactionsVoidTargetsArchive(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-flow")
	p := "/portfolios/" + id
	buy := a.do(alice, "POST", p+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"185.64","fee":"1"}`, "Idempotency-Key", "buy-1")
	a.expect(buy, 201, "")
	if d := buy.data(); d["quantity"] != "10" || d["price"] != "185.64" || d["currency"] != "USD" || buy.headers["Etag"] != `"2"` {
		t.Fatalf("buy answered %s", buy.raw)
	}
	// A retry answers the same transaction and writes nothing.
	again := a.do(alice, "POST", p+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"185.64","fee":"1"}`, "Idempotency-Key", "buy-1")
	a.expect(again, 200, "")
	if again.data()["transactionId"] != buy.data()["transactionId"] || again.body["version"] != float64(2) {
		t.Fatalf("retry answered %s", again.raw)
	}
	sell := a.do(alice, "POST", p+"/transactions", `{"type":"SELL","date":"2024-02-01","symbol":"AAPL","quantity":"4","price":"190"}`, "If-Match", `"2"`)
	a.expect(sell, 201, "")
	// Voiding the buy would leave the sell short; voiding the sell is fine.
	a.expect(a.do(alice, "POST", p+"/transactions/"+buy.data()["transactionId"].(string)+"/void", `{"reason":"typo"}`), 422, "insufficient_holdings")
	v := a.do(alice, "POST", p+"/transactions/"+sell.data()["transactionId"].(string)+"/void", `{"reason":"duplicate"}`)
	a.expect(v, 200, "")
	if v.data()["voided"] != true {
		t.Fatalf("void answered %s", v.raw)
	}
	a.expect(a.do(alice, "POST", p+"/transactions/"+sell.data()["transactionId"].(string)+"/void", `{"reason":"again"}`), 409, "version_conflict")
	tg := a.do(alice, "PUT", p+"/targets", `{"targets":[{"symbol":"VTI","weight":"0.6"},{"symbol":"BND","weight":"0.4"}],"driftBand":"0.05"}`)
	a.expect(tg, 200, "")
	ren := a.do(alice, "PATCH", p, `{"name":"Renamed"}`)
	a.expect(ren, 200, "")
	if ren.data()["name"] != "Renamed" {
		t.Fatalf("rename answered %s", ren.raw)
	}
	a.expect(a.do(alice, "POST", p+"/archive", `{"reason":"closed the account"}`), 200, "")
	a.expect(a.do(alice, "POST", p+"/transactions", `{"type":"DEPOSIT","date":"2024-03-01","amount":"100"}`), 422, "portfolio_archived")

	trail := a.do(alice, "GET", p+"/events?limit=3", "")
	a.expect(trail, 200, "")
	items := trail.body["items"].([]any)
	if len(items) != 3 || trail.body["nextCursor"] != "3" {
		t.Fatalf("audit page: %s", trail.raw)
	}
	rest := a.do(alice, "GET", p+"/events?after=3", "")
	// create, buy, sell, void, targets, rename, archive: 7 events, 4 after version 3.
	if n := len(rest.body["items"].([]any)); n != 4 || rest.body["nextCursor"] != nil {
		t.Fatalf("audit rest: %d items, %s", n, rest.raw)
	}
}

func TestOtherUsersCommandsSeeNothing(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-iso")
	p := "/portfolios/" + id
	buy := a.do(alice, "POST", p+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"1"}`)
	a.expect(buy, 201, "")
	for _, c := range []struct{ method, path, body string }{
		{"POST", p + "/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`},
		{"POST", p + "/transactions/" + buy.data()["transactionId"].(string) + "/void", `{"reason":"mine now"}`},
		{"PATCH", p, `{"name":"pwned"}`},
		{"POST", p + "/archive", `{}`},
		{"PUT", p + "/targets", `{"targets":[{"symbol":"A","weight":"1"}],"driftBand":"0.1"}`},
		{"POST", p + "/import", `{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}]}`},
		{"POST", p + "/import/preview", `{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}]}`},
		{"POST", p + "/import/preview", `{"activities":[{"date":"yesterday"}]}`},
		{"GET", p + "/events", ``},
	} {
		a.expect(a.do(bob, c.method, c.path, c.body), 404, "not_found")
	}
	// The same Idempotency-Key as alice's create gives bob his own portfolio.
	if bobs := a.createPortfolio(bob, "k-iso"); bobs == id {
		t.Fatal("bob's create with alice's key returned alice's portfolio")
	}
}

func TestImportIsAllOrNothingWithARowReport(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-imp")
	p := "/portfolios/" + id + "/import"
	bad := `{"activities":[
  {"date":"2024-01-02","type":"BUY","symbol":"MSFT","quantity":10,"unitPrice":370,"fee":1,"currency":"USD"},
  {"date":"2024-01-05","type":"SELL","symbol":"MSFT","quantity":15,"unitPrice":380,"fee":1,"currency":"USD"}
]}`
	r := a.do(alice, "POST", p, bad)
	a.expect(r, 422, "import_rejected")
	rows := r.body["error"].(map[string]any)["details"].(map[string]any)["rows"].([]any)
	row := rows[0].(map[string]any)
	if row["index"] != float64(1) || row["line"] != float64(3) || !strings.Contains(row["message"].(string), "insufficient holdings") {
		t.Fatalf("row report %s", r.raw)
	}
	if trail := a.do(alice, "GET", "/portfolios/"+id+"/events", ""); len(trail.body["items"].([]any)) != 1 {
		t.Fatalf("a refused import wrote events: %s", trail.raw)
	}
	good := strings.Replace(bad, `"quantity":15`, `"quantity":5`, 1)
	ok := a.do(alice, "POST", p, good, "Idempotency-Key", "imp-1")
	a.expect(ok, 201, "")
	if ok.data()["imported"] != float64(2) {
		t.Fatalf("import answered %s", ok.raw)
	}
	csv := "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n2024-02-01,AAPL,YAHOO,USD,180,3,buy,0.5,\n"
	a.expect(a.do(alice, "POST", p, csv, "Content-Type", "text/csv"), 201, "")
	a.expect(a.do(alice, "POST", p, `{"activities":[{"date":"yesterday"}]}`), 422, "import_rejected")
	a.expect(a.do(alice, "POST", p, "garbage", "Content-Type", "text/plain"), 415, "unsupported_media_type")
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"activities":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"date":"2024-03-%02d","type":"BUY","symbol":"X%d","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}`, 1+i%28, i%40)
		}
		b.WriteString("]}")
		return b.String()
	}
	// More rows than a DynamoDB transaction takes (100): still one atomic event.
	big := a.do(alice, "POST", p, many(750))
	a.expect(big, 201, "")
	if big.data()["imported"] != float64(750) {
		t.Fatalf("750-row import answered %.200s", big.raw)
	}
	a.expect(a.do(alice, "POST", p, many(1001)), 413, "payload_too_large")
}

// TestNoBodyMakesA500 throws random bytes at every command route.
func TestNoBodyMakesA500(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-fuzz")
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{`{`, `}`, `"type"`, `:`, `"BUY"`, `"date"`, `"2024-01-02"`, `,`, `"quantity"`, `"1"`, `null`, `[`, `]`, `"reason"`, `"x"`, `"targets"`, `1e999`, `"\u0000"`, `"symbol"`, `"ratio"`, `"4:1"`}
	routes := []struct{ method, path string }{
		{"POST", "/portfolios"}, {"PATCH", "/portfolios/" + id}, {"POST", "/portfolios/" + id + "/transactions"},
		{"POST", "/portfolios/" + id + "/transactions/x/void"}, {"PUT", "/portfolios/" + id + "/targets"},
		{"POST", "/portfolios/" + id + "/import"}, {"POST", "/portfolios/" + id + "/import/preview"}, {"POST", "/portfolios/" + id + "/archive"},
	}
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for j := r.IntN(12); j >= 0; j-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		rt := routes[r.IntN(len(routes))]
		res := a.do(alice, rt.method, rt.path, b.String())
		if res.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, b.String(), res.status, res.raw)
		}
	}
	_ = http.StatusOK
}
