package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// BenchmarkHTTPGateway measures the gateway's own work per request (event
// building, authorizer cache, invocation plumbing, response mapping) with an
// in-process echo invoker: the function answers its event, which format 2.0
// sends back as a 200 JSON body. It reports the p99 latency as p99-ns.
func BenchmarkHTTPGateway(b *testing.B) {
	echo := invoke.Func(func(_ context.Context, name string, payload []byte) ([]byte, error) {
		if name == "authorizer" {
			return []byte(`{"isAuthorized":true,"context":{"userId":"u-1","role":"authenticated"}}`), nil
		}
		return payload, nil
	})
	routes := []gateway.Route{
		{Method: "GET", Path: "/portfolios", Function: "api"},
		{Method: "GET", Path: "/portfolios/{id}", Function: "api"},
		{Method: "POST", Path: "/portfolios/{id}/transactions", Function: "api"},
		{Method: "GET", Path: "/alerts/history", Function: "api"},
	}
	for _, bc := range []struct {
		name       string
		authorizer string
	}{{"no-authorizer", ""}, {"authorizer-cached", "authorizer"}} {
		b.Run(bc.name, func(b *testing.B) {
			g, err := gateway.NewHTTP(echo, gateway.HTTPConfig{Routes: routes, Authorizer: bc.authorizer})
			if err != nil {
				b.Fatal(err)
			}
			body := `{"type":"BUY","symbol":"AAPL","quantity":"10","price":"187.5","date":"2026-11-20"}`
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest("POST", "/portfolios/p-123/transactions?dryRun=true", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer token-1")
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				start := time.Now()
				g.ServeHTTP(w, req)
				lat = append(lat, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
