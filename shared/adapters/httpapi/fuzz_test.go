package httpapi_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/symbolsearch"
	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

// newFuzzAPI is one server for every input of a fuzzing run: commands on the
// in-memory event store (it passes the DynamoDB store's contract suite), reads,
// alerts and analytics on a real PostgreSQL, the symbol search over a provider
// that knows nothing. Alice and Bob own a portfolio each.
func newFuzzAPI(f *testing.F) (a *api, alicePF, bobPF string) {
	ctx := context.Background()
	dsn := testenv.Postgres(f)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{ApplicationName: "api-fuzz", MaxConns: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		f.Fatal(err)
	}
	store := eventstore.NewMemory()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The user service as the API's login sees it (its erasure runs as the
	// caller); the stores outside PostgreSQL hold nothing of Alice here.
	callerDB, _ := readmodeltest.API(f, dsn)
	profiles := readmodel.NewUsers(callerDB)
	srv := httpapi.New(httpapi.Config{Commands: command.New(store, command.Options{Logger: quiet}), Events: store,
		Queries: readmodel.NewQueries(pool), Alerts: readmodel.NewAlertRules(pool), Analytics: readmodel.NewMetrics(pool),
		Suggestions: readmodel.NewSuggestions(pool), Logger: quiet, Symbols: symbolsearch.New(&fakeSearcher{}, symbolsearch.Options{}),
		Users: users.New(users.Config{Profiles: profiles, PhoneCodes: profiles, ReadModels: profiles, Auth: nobodyInAuth{},
			Events: nothingToErase{}, Connections: nothingToErase{}, Quotas: nothingToErase{}, PhoneCodeKey: []byte("fuzz"), Logger: quiet}),
		Notifications: readmodel.NewNotificationHistory(pool), UnsubscribeKey: []byte("fuzz-key")})
	a = &api{t: f, handler: httplambda.Handler(srv)}
	alicePF, bobPF = a.createPortfolio(alice, "fuzz-a"), a.createPortfolio(bob, "fuzz-b")
	// The read models have them, as they do half a second after a creation: a
	// portfolio they lack is a query's wait and then, for the figures, a 503.
	projector := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Logger: quiet, Metrics: io.Discard})
	for _, id := range []string{alicePF, bobPF} {
		events, err := store.Events(ctx, id, 1, 0)
		if err != nil {
			f.Fatal(err)
		}
		if failed, err := projector.Apply(ctx, events); err != nil || len(failed) > 0 {
			f.Fatalf("project %s: %v %v", id, failed, err)
		}
	}
	return a, alicePF, bobPF
}

// FuzzAPI sends arbitrary bodies, queries and headers to every route, as Alice,
// on her portfolio and on Bob's. Whatever arrives: no panic and no 5xx; every
// answer is JSON, a refusal has the error shape; and on Bob's portfolio Alice
// gets nothing but 404.
func FuzzAPI(f *testing.F) {
	routes := httpapi.New(httpapi.Config{}).Routes()
	for i := range routes {
		f.Add(uint8(i), false, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"10"}`, "", "")
		f.Add(uint8(i), true, `{"name":"x","kind":"value_drop","portfolioId":"P","threshold":"0.05","window":"1h"}`, "limit=2", `"1"`)
	}
	f.Add(uint8(0), false, `{"name":"A\u202e","baseCurrency":"USD"}`, "", "")
	f.Add(uint8(5), false, `{"type":"SPLIT","date":"2024-01-02","symbol":"AAPL","ratio":"9223372036854775807:1"}`, "", "")
	f.Add(uint8(5), false, `{"type":"BUY","date":"0000-01-01","symbol":"AAPL","quantity":"1","price":"1"}`, "", "")
	f.Add(uint8(12), false, `{"activities":[{"type":"BUY","date":"2024-01-02","symbol":"X","quantity":1e400,"unitPrice":1,"currency":"USD"}]}`, "", "")
	base, alicePF, bobPF := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, route uint8, onBobs bool, body, query, ifMatch string) {
		a := &api{t: t, handler: base.handler}
		rt := routes[int(route)%len(routes)]
		pf := alicePF
		if onBobs {
			pf = bobPF
		}
		body = strings.ReplaceAll(body, `"P"`, `"`+pf+`"`)
		path := strings.NewReplacer("{id}", pf, "{txId}", "tx", "{ruleId}", "r", "{firingKey}", "r%230", "{suggestionId}", "s").Replace(rt.Path)
		if query != "" {
			path += "?" + asSent(query)
		}
		headers := []string{"Idempotency-Key", "k"}
		if ifMatch != "" {
			headers = append(headers, "If-Match", ifMatch)
		}
		r := a.do(alice, rt.Method, path, body, headers...)
		// The one 5xx allowed: a figure of Alice's portfolio once DELETE /me has
		// erased her read models (this fixture's event store keeps her events),
		// which is the documented retry-later answer of a portfolio the read
		// models have not seen.
		notReadyYet := r.status == 503 && r.errorCode() == "unavailable" && r.headers["Retry-After"] == "1" && rt.Method == "GET" && !onBobs
		if r.status >= 500 && !notReadyYet {
			t.Fatalf("%s %s %q: %d %s", rt.Method, path, body, r.status, r.raw)
		}
		if rt.Public() {
			// The unsubscribe pages answer HTML, to a person.
			if ct := r.headers["Content-Type"]; !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("%s %s: %d %q, not a page", rt.Method, path, r.status, ct)
			}
			return
		}
		if r.status != 204 && !json.Valid([]byte(r.raw)) {
			t.Fatalf("%s %s: not JSON: %q", rt.Method, path, r.raw)
		}
		if r.status >= 400 && (r.errorCode() == "" || r.body["error"].(map[string]any)["message"] == "") {
			t.Fatalf("%s %s: refusal without the error shape: %s", rt.Method, path, r.raw)
		}
		if onBobs && strings.Contains(rt.Path, "{id}") && r.status != 404 {
			t.Fatalf("%s %s on Bob's portfolio: %d %s", rt.Method, path, r.status, r.raw)
		}
	})
}

// asSent percent-encodes what an HTTP client cannot send raw in a query
// string (control characters, spaces, non-ASCII, '#'), as API Gateway's
// rawQueryString would carry it.
func asSent(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nobodyInAuth is a Supabase Auth that knows no user.
type nobodyInAuth struct{}

func (nobodyInAuth) AuthUser(context.Context, string) (users.AuthUser, error) {
	return users.AuthUser{}, users.ErrAuthUserNotFound
}
func (nobodyInAuth) DeleteAuthUser(context.Context, string) error { return users.ErrAuthUserNotFound }

// nothingToErase stands for the DynamoDB stores, empty of the user.
type nothingToErase struct{}

func (nothingToErase) EraseAggregate(context.Context, string) (int64, error)       { return 0, nil }
func (nothingToErase) EraseUserConnections(context.Context, string) (int64, error) { return 0, nil }
func (nothingToErase) PortfoliosCreated(context.Context, string) ([]string, error) { return nil, nil }
func (nothingToErase) EraseUserQuotas(context.Context, string) (int64, error)      { return 0, nil }
