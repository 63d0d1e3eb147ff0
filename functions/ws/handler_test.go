package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
	"github.com/portfoliotracker/tracker/shared/devtools/gatewayfake"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	userA = "0a0a0a0a-0000-4000-8000-00000000000a"
	userB = "0b0b0b0b-0000-4000-8000-00000000000b"
)

type fixture struct {
	h     *Handler
	gw    *gatewayfake.Server
	store *wsconn.Store
	pool  *pgxpool.Pool
	posts atomic.Int64 // every request the management API received
}

// newFixture: the handler on a DynamoDB Local connections table, the real read-model queries on
// a fresh PostgreSQL database (A owns "pa", B owns "pb"), and replies posted through the real SDK
// client to the fake management API.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{gw: gatewayfake.New(), store: wsconntest.Store(t, wsconn.Options{})}
	f.gw.Hook = func(*http.Request, string) int { f.posts.Add(1); return 0 }
	srv := httptest.NewServer(f.gw)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	pusher := push.New(push.NewManagementClient(cfg, srv.URL+"/test"), f.store, push.Options{})

	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
		values ('pa', $1, 'A', 'USD', 'fifo', now(), now(), 1), ('pb', $2, 'B', 'USD', 'fifo', now(), now(), 1)`, userA, userB); err != nil {
		t.Fatal(err)
	}
	f.pool = pool
	// The database as the ws function sees it: its own login, each statement as the caller.
	api, _ := readmodeltest.API(t, dsn)
	f.h = &Handler{Conns: f.store, Portfolios: readmodel.NewQueries(api), Sender: pusher,
		Watchers: lazyWatchers{lazy.New(func(context.Context) (*readmodel.CallerDB, error) { return api, nil })}}
	return f
}

// event decodes a request as API Gateway sends it.
func event(t *testing.T, route, connID string, authorizer map[string]any, body string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	rc := map[string]any{"routeKey": route, "connectionId": connID, "stage": "test", "domainName": "example.test"}
	if authorizer != nil {
		rc["authorizer"] = authorizer
	}
	raw, err := json.Marshal(map[string]any{"requestContext": rc, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func authz(user string) map[string]any {
	return map[string]any{"principalId": user, "userId": user, "role": "authenticated", "integrationLatency": 3}
}

func (f *fixture) do(t *testing.T, req events.APIGatewayWebsocketProxyRequest) int {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// connect opens the connection in the fake gateway and runs $connect for the user.
func (f *fixture) connect(t *testing.T, id, user string) {
	t.Helper()
	f.gw.Connect(id)
	if code := f.do(t, event(t, "$connect", id, authz(user), "")); code != 200 {
		t.Fatalf("$connect: %d", code)
	}
}

// send runs $default and returns the reply posted back (exactly one is expected).
func (f *fixture) send(t *testing.T, id, body string) map[string]any {
	t.Helper()
	before := len(f.gw.Messages(id))
	if code := f.do(t, event(t, "$default", id, nil, body)); code != 200 {
		t.Fatalf("$default: %d", code)
	}
	msgs := f.gw.Messages(id)
	if len(msgs) != before+1 {
		t.Fatalf("%s: %d replies, want 1", body, len(msgs)-before)
	}
	var out map[string]any
	if err := json.Unmarshal(msgs[len(msgs)-1], &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConnectStoresTheUserAndNeverPosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.connect(t, "c1=", userA)
	c, err := f.store.Get(context.Background(), "c1=")
	if err != nil || c.UserID != userA {
		t.Fatalf("stored %+v %v", c, err)
	}
	if n := f.posts.Load(); n != 0 {
		t.Fatalf("$connect made %d management API calls", n)
	}
	// No authorizer context (a misconfigured route): refused, nothing stored.
	f.gw.Connect("c2")
	if code := f.do(t, event(t, "$connect", "c2", nil, "")); code != http.StatusUnauthorized {
		t.Fatalf("$connect without authorizer: %d", code)
	}
	if _, err := f.store.Get(context.Background(), "c2"); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("c2 stored: %v", err)
	}
	if n := f.posts.Load(); n != 0 {
		t.Fatalf("$connect made %d management API calls", n)
	}
}

func TestDisconnectDeletes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.connect(t, "c1", userA)
	if code := f.do(t, event(t, "$disconnect", "c1", authz(userA), "")); code != 200 {
		t.Fatalf("$disconnect: %d", code)
	}
	if _, err := f.store.Get(context.Background(), "c1"); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("after $disconnect: %v", err)
	}
	if code := f.do(t, event(t, "$disconnect", "c1", nil, "")); code != 200 {
		t.Fatalf("second $disconnect: %d", code)
	}
}

// TestConnectionsQuotaAtConnect: a user's connection past the quota is refused
// with 429 and never stored; another user still connects, and a $disconnect
// makes room.
func TestConnectionsQuotaAtConnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	limit := quota.ConnectionsPerUser.Limit
	for i := range limit {
		f.connect(t, fmt.Sprintf("a%d=", i), userA)
	}
	f.gw.Connect("over=")
	if code := f.do(t, event(t, "$connect", "over=", authz(userA), "")); code != http.StatusTooManyRequests {
		t.Fatalf("$connect past the quota: %d, want 429", code)
	}
	if _, err := f.store.Get(context.Background(), "over="); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("the refused connection was stored: %v", err)
	}
	f.connect(t, "b0=", userB)
	if code := f.do(t, event(t, "$disconnect", "a0=", authz(userA), "")); code != 200 {
		t.Fatalf("$disconnect: %d", code)
	}
	if code := f.do(t, event(t, "$connect", "over=", authz(userA), "")); code != 200 {
		t.Fatalf("$connect after a $disconnect: %d", code)
	}
}

func TestSubscriptionsAndPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.connect(t, "a1", userA)

	if r := f.send(t, "a1", `{"action":"ping"}`); r["type"] != "pong" || len(r) != 1 {
		t.Fatalf("ping: %v", r)
	}
	r := f.send(t, "a1", `{"action":"subscribe","portfolioId":"pa","symbols":["MSFT","AAPL"]}`)
	if r["type"] != "subscribed" || !equalList(r["portfolioIds"], "pa") || !equalList(r["symbols"], "AAPL", "MSFT") {
		t.Fatalf("subscribe: %v", r)
	}
	// Another user's portfolio is refused, and nothing changes.
	if r := f.send(t, "a1", `{"action":"subscribe","portfolioId":"pb","symbols":["VTI"]}`); r["type"] != "error" || r["code"] != CodeNotFound {
		t.Fatalf("someone else's portfolio: %v", r)
	}
	// So is one that does not exist.
	if r := f.send(t, "a1", `{"action":"subscribe","portfolioId":"nope"}`); r["code"] != CodeNotFound {
		t.Fatalf("no such portfolio: %v", r)
	}
	c, err := f.store.Get(ctx, "a1")
	if err != nil || !slices.Equal(c.Portfolios, []string{"pa"}) || !slices.Equal(c.Symbols, []string{"AAPL", "MSFT"}) {
		t.Fatalf("stored %+v %v", c, err)
	}
	// The user is the stored one: an authorizer context claiming B on a later message does not
	// make B's portfolio subscribable.
	f.do(t, event(t, "$default", "a1", authz(userB), `{"action":"subscribe","portfolioId":"pb"}`))
	if msgs := f.gw.Messages("a1"); !strings.Contains(string(msgs[len(msgs)-1]), `"type":"error"`) {
		t.Fatalf("user switch: %s", msgs[len(msgs)-1])
	}
	// The symbols are watched (the prices function pushes their quotes to A), VTI
	// of the refused subscription is not.
	watchers := func(symbol string) []string {
		t.Helper()
		users, err := readmodel.WatchersOf(ctx, f.pool, []string{symbol}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return users
	}
	if a, m, v := watchers("AAPL"), watchers("MSFT"), watchers("VTI"); !slices.Equal(a, []string{userA}) || !slices.Equal(m, []string{userA}) || len(v) != 0 {
		t.Fatalf("watchers: AAPL %v, MSFT %v, VTI %v", a, m, v)
	}
	r = f.send(t, "a1", `{"action":"unsubscribe","symbols":["AAPL"]}`)
	if r["type"] != "unsubscribed" || !equalList(r["portfolioIds"], "pa") || !equalList(r["symbols"], "MSFT") {
		t.Fatalf("unsubscribe: %v", r)
	}
	if a, m := watchers("AAPL"), watchers("MSFT"); len(a) != 0 || !slices.Equal(m, []string{userA}) {
		t.Fatalf("watchers after unsubscribing AAPL: AAPL %v, MSFT %v", a, m)
	}
	r = f.send(t, "a1", `{"action":"unsubscribe","portfolioId":"pa","symbols":["MSFT"]}`)
	if !equalList(r["portfolioIds"]) || !equalList(r["symbols"]) {
		t.Fatalf("unsubscribe all: %v", r)
	}
}

func TestInvalidMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.connect(t, "a1", userA)
	many := make([]string, wsconn.MaxSymbols+1)
	for i := range many {
		many[i] = "S" + strings.Repeat("X", i%30) + string(rune('A'+i%26)) + string(rune('A'+i/26))
	}
	manyJSON, _ := json.Marshal(map[string]any{"action": "subscribe", "symbols": many})
	for body, code := range map[string]string{
		`not json`:                                            CodeBadRequest,
		`{"action":"ping"} {"action":"ping"}`:                 CodeBadRequest,
		`{"action":"ping","extra":1}`:                         CodeBadRequest,
		`{"action":"ping","symbols":["AAPL"]}`:                CodeBadRequest,
		`{"action":"dance"}`:                                  CodeUnknownAction,
		`{}`:                                                  CodeBadRequest,
		`{"action":"subscribe"}`:                              CodeBadRequest,
		`{"action":"subscribe","symbols":["A B"]}`:            CodeBadRequest,
		`{"action":"subscribe","symbols":"AAPL"}`:             CodeBadRequest,
		`{"action":"subscribe","portfolioId":""}`:             CodeBadRequest,
		`{"action":"subscribe","portfolioId":["pa"]}`:         CodeBadRequest,
		string(manyJSON):                                      CodeLimitExceeded,
		`"` + strings.Repeat("x", push.MaxMessageBytes) + `"`: CodeMessageTooLarge,
	} {
		r := f.send(t, "a1", body)
		if r["type"] != "error" || r["code"] != code || r["message"] == "" {
			t.Errorf("%.60s: %v, want code %s", body, r, code)
		}
	}
	// A message on a connection the table does not know (expired, or $connect failed).
	f.gw.Connect("stray")
	if r := f.send(t, "stray", `{"action":"ping"}`); r["code"] != CodeUnknownConn {
		t.Fatalf("stray: %v", r)
	}
}

func equalList(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for i := range l {
		if l[i] != want[i] {
			return false
		}
	}
	return true
}
