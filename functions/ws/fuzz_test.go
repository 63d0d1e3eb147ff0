package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzMessages sends arbitrary $default messages on user A's connection, through
// the real handler, connections table and read models. Whatever arrives: no
// panic, status 200, exactly one reply, a JSON object with a type; and the
// connection never ends up subscribed to B's portfolio.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`{"action":"ping"}`, `{"action":"subscribe","portfolioId":"pa"}`, `{"action":"subscribe","portfolioId":"pb"}`,
		`{"action":"subscribe","symbols":["AAPL","MSFT"]}`, `{"action":"unsubscribe","symbols":["AAPL"]}`,
		`{"action":"subscribe","portfolioId":"pa","symbols":["A\u200b"]}`, `{"action":"subscribe","portfolioId":"pa"}{}`,
		`{"action":"nope"}`, `[]`, `null`, `"x"`, ``, `{"action":"subscribe","symbols":[1,2]}`,
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	const conn = "fuzz-conn"
	fx.gw.Connect(conn)
	connect := events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: "$connect", ConnectionID: conn, Authorizer: authz(userA)}}
	if resp, err := fx.h.Handle(context.Background(), connect); err != nil || resp.StatusCode != 200 {
		f.Fatalf("$connect: %v %v", resp, err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before := len(fx.gw.Messages(conn))
		req := events.APIGatewayWebsocketProxyRequest{Body: body, RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: "$default", ConnectionID: conn}}
		resp, err := fx.h.Handle(context.Background(), req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: %v %v", body, resp, err)
		}
		msgs := fx.gw.Messages(conn)
		if len(msgs) != before+1 {
			t.Fatalf("%q: %d replies, want 1", body, len(msgs)-before)
		}
		var reply map[string]any
		if err := json.Unmarshal(msgs[len(msgs)-1], &reply); err != nil || reply["type"] == nil {
			t.Fatalf("%q: reply %s", body, msgs[len(msgs)-1])
		}
		c, err := fx.store.Get(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(c.Portfolios, "pb") {
			t.Fatalf("%q subscribed A to B's portfolio", body)
		}
	})
}
