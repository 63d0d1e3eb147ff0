package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/portfoliotracker/tracker/localstack/stack"
)

// testTracing is issue 19's acceptance of the traces: a trade and a tick, each
// started with a traceparent the test makes up (a browser's, a publisher's),
// reach the local stack's collector as one trace each, whose span tree holds
// every hop with its parent link intact — API → event store → stream →
// projector and analytics; tick → prices → WebSocket push (to ws, subscribed
// to portfolioID, which holds the ticked MSFT).
func testTracing(t *testing.T, s *localStack, token, portfolioID string, ws *wsConn, kc *kinesis.Client) {
	t.Run("a trade: API → event store → stream → projector and analytics", func(t *testing.T) {
		// A portfolio of its own: the other subtests count the positions of theirs.
		var created struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if code := (client{base: s.url("HTTP"), token: token}).do(t, "POST", "/portfolios", map[string]any{"name": "E2E traces", "baseCurrency": "USD"}, &created); code != 201 {
			t.Fatalf("create a portfolio: HTTP %d", code)
		}
		traceID, parent := newIDs(t)
		body := `{"type":"BUY","date":"2024-02-01","symbol":"AAPL","quantity":"1","price":"151"}`
		req, _ := http.NewRequest("POST", s.url("HTTP")+"/portfolios/"+created.Data.ID+"/transactions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("record a trade: HTTP %d", resp.StatusCode)
		}
		tree := waitTrace(t, s, traceID, "projector batch record", "analytics batch record")
		t.Logf("the trade's trace:\n%s", printed(tree))
		spans := flatten(tree)
		api := one(t, spans, "POST /portfolios/{id}/transactions")
		if api.ParentSpanID != parent || api.Service != "api" || api.Kind != "server" {
			t.Errorf("API span %+v: want the server span of the api, child of the request's traceparent %s", api.Span, parent)
		}
		appendSpan := one(t, spans, "eventstore append")
		if !descends(spans, appendSpan, api) {
			t.Errorf("the append is not under the API's span:\n%s", printed(tree))
		}
		put := one(t, spans, "DynamoDB.PutItem")
		for _, child := range []stack.SpanNode{put, one(t, spans, "projector batch record"), one(t, spans, "analytics batch record")} {
			if child.ParentSpanID != appendSpan.SpanID {
				t.Errorf("%s [%s]: parent %s, want the append %s:\n%s", child.Name, child.Service, child.ParentSpanID, appendSpan.SpanID, printed(tree))
			}
		}
		for _, name := range []string{"projector batch record", "analytics batch record"} {
			if r := one(t, spans, name); len(r.Links) != 1 || r.Links[0].TraceID == traceID {
				t.Errorf("%s: links %v, want its batch's span, in the invocation's own trace", name, r.Links)
			}
		}
		checkIntact(t, tree, api)
	})

	t.Run("a tick: prices → WebSocket push", func(t *testing.T) {
		traceID, parent := newIDs(t)
		publishWith(t, kc, "MSFT", "433.25", time.Now(), "00-"+traceID+"-"+parent+"-01")
		ws.next(t, 10*time.Second, func(m map[string]any) bool { return m["type"] == "valuation" && m["portfolioId"] == portfolioID })
		tree := waitTrace(t, s, traceID, "websocket push")
		t.Logf("the tick's trace:\n%s", printed(tree))
		spans := flatten(tree)
		record := one(t, spans, "prices batch record")
		if record.ParentSpanID != parent || record.Service != "prices" || record.Kind != "consumer" {
			t.Errorf("record span %+v: want the prices consumer's, child of the record's traceparent %s", record.Span, parent)
		}
		push := one(t, spans, "websocket push")
		if push.ParentSpanID != record.SpanID {
			t.Errorf("push parent %s, want the record's span %s:\n%s", push.ParentSpanID, record.SpanID, printed(tree))
		}
		posted := false
		for _, c := range push.Children {
			posted = posted || c.Name == "ApiGatewayManagementApi.PostToConnection"
		}
		if !posted {
			t.Errorf("no PostToConnection under the push:\n%s", printed(tree))
		}
		checkIntact(t, tree, record)
	})
}

func newIDs(t *testing.T) (traceID, spanID string) {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:16]), hex.EncodeToString(b[16:])
}

// waitTrace polls the collector until the trace holds a span of every name
// (the functions flush at the end of each invocation).
func waitTrace(t *testing.T, s *localStack, traceID string, names ...string) stack.TraceTree {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var tree stack.TraceTree
	for {
		tree = stack.TraceTree{}
		resp, err := http.Get(s.url("ADMIN") + "/traces/" + traceID)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 200 {
			_ = json.NewDecoder(resp.Body).Decode(&tree)
		}
		resp.Body.Close()
		missing := ""
		spans := flatten(tree)
		for _, n := range names {
			if len(find(spans, n)) == 0 {
				missing = n
			}
		}
		if missing == "" {
			return tree
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s: no %q span within 20s:\n%s", traceID, missing, printed(tree))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func flatten(t stack.TraceTree) []stack.SpanNode {
	var out []stack.SpanNode
	var walk func(n stack.SpanNode)
	walk = func(n stack.SpanNode) {
		out = append(out, n)
		for _, c := range n.Children {
			walk(c)
		}
	}
	for _, r := range t.Roots {
		walk(r)
	}
	return out
}

func find(spans []stack.SpanNode, name string) []stack.SpanNode {
	var out []stack.SpanNode
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func one(t *testing.T, spans []stack.SpanNode, name string) stack.SpanNode {
	t.Helper()
	got := find(spans, name)
	if len(got) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(got), name)
	}
	return got[0]
}

// descends reports whether s is below ancestor.
func descends(spans []stack.SpanNode, s, ancestor stack.SpanNode) bool {
	byID := map[string]stack.SpanNode{}
	for _, x := range spans {
		byID[x.SpanID] = x
	}
	for p, ok := byID[s.ParentSpanID]; ok; p, ok = byID[p.ParentSpanID] {
		if p.SpanID == ancestor.SpanID {
			return true
		}
	}
	return false
}

// checkIntact: the trace is one tree under root, the only span whose parent
// (the test's made-up one) the collector does not hold.
func checkIntact(t *testing.T, tree stack.TraceTree, root stack.SpanNode) {
	t.Helper()
	if len(tree.Roots) != 1 || tree.Roots[0].SpanID != root.SpanID {
		t.Errorf("the trace has %d roots, want one, %s:\n%s", len(tree.Roots), root.Name, printed(tree))
	}
	for _, s := range flatten(tree) {
		if s.Status != "" && s.Status != "OK" {
			t.Errorf("%s [%s]: %s", s.Name, s.Service, s.Status)
		}
	}
}

func printed(t stack.TraceTree) string {
	var b bytes.Buffer
	stack.PrintTree(&b, t)
	return b.String()
}
