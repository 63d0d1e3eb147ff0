package prices_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/devtools/gatewayfake"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// TestSlowConnectionDoesNotHoldTheBatch: the pusher as the prices function wires
// it, to the fake management API, where every post to u1's connection hangs
// until the client gives up (after a minute). The batch's result is in within
// its push budget, no record is reported, both firings are in the history, and
// u2 gets its alert, valuation and quote.
func TestSlowConnectionDoesNotHoldTheBatch(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "10"})
	holdings(t, e.pool, "p2", u2, map[string]string{"AAPL": "5"})
	store := readmodel.NewConsumerAlertRules(e.pool)
	for _, u := range []string{u1, u2} {
		if _, err := store.Create(ctx, u, alerts.Rule{ID: "above-" + u[len(u)-1:], Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(101)}); err != nil {
			t.Fatal(err)
		}
	}

	gw := gatewayfake.New()
	gw.Hook = func(r *http.Request, id string) int {
		if id == "u1-slow" {
			<-r.Context().Done()
			return http.StatusGatewayTimeout
		}
		return 0
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	conns := wsconntest.Store(t, wsconn.Options{})
	for id, sub := range map[string][2]string{"u1-slow": {u1, "p1"}, "u2-tab": {u2, "p2"}} {
		gw.Connect(id)
		if _, err := conns.Put(ctx, id, sub[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := conns.Subscribe(ctx, id, []string{sub[1]}, []string{"AAPL"}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	const postTimeout, budget = time.Minute, 500 * time.Millisecond
	pusher := push.New(push.NewManagementClient(cfg, srv.URL+"/test"), conns, push.Options{PostTimeout: postTimeout})
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: pusher, PushBudget: budget})

	start := time.Now()
	resp, st, _ := c.Process(ctx, []prices.Record{rec(t, "AAPL", "102", t0)})
	elapsed := time.Since(start)
	if len(resp) != 0 || st.Firings != 2 || st.Valuations != 2 || st.PushFailures != 1 {
		t.Fatalf("failures %v, stats %+v: a hanging push must fail no record", resp, st)
	}
	// Without the budget the batch would wait out the post's minute.
	if elapsed >= postTimeout/4 {
		t.Fatalf("the batch took %v (pushes %v) with a push budget of %v", elapsed, st.Push, budget)
	}
	for _, u := range []string{u1, u2} {
		if hist, _, err := store.History(ctx, u, 10, ""); err != nil || len(hist) != 1 {
			t.Fatalf("history of %s: %+v %v", u, hist, err)
		}
	}
	var types []string
	for _, m := range gw.Messages("u2-tab") {
		var msg struct{ Type string }
		if err := json.Unmarshal(m, &msg); err != nil {
			t.Fatal(err)
		}
		types = append(types, msg.Type)
	}
	if want := []string{push.TypeAlert, push.TypeValuation, push.TypePrice}; !slices.Equal(types, want) {
		t.Fatalf("u2 received %v, want %v", types, want)
	}
}
