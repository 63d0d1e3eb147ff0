package e2e

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkTickToWebSocket measures issue 6's live path on the running local
// stack with its default polling settings: a MarketDataUpdated put on Kinesis
// (as ingest does) → the prices mapping's poller → the prices function →
// PostToConnection through the WebSocket gateway → the browser's socket. One
// op is one tick whose valuation message has arrived; p50 and p99 are of
// single ticks, sent one at a time so that none waits behind another.
func BenchmarkTickToWebSocket(b *testing.B) {
	s := startStack(b)
	token := s.token(b, "bench-user")
	api := client{base: s.url("HTTP"), token: token}
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if code := api.do(b, "POST", "/portfolios", map[string]any{"name": "Latency", "baseCurrency": "USD"}, &created); code != 201 {
		b.Fatalf("create portfolio: HTTP %d", code)
	}
	id := created.Data.ID
	if code := api.do(b, "POST", "/portfolios/"+id+"/transactions",
		map[string]any{"type": "BUY", "date": "2024-01-03", "symbol": "LATX", "quantity": "10", "price": "100"}, nil); code != 201 {
		b.Fatalf("record: HTTP %d", code)
	}
	api.waitPositions(b, id, map[string]string{"LATX": "10"}, 10*time.Second)
	ws := dialWS(b, s, token)
	ws.send(b, map[string]any{"action": "subscribe", "portfolioId": id})
	ws.next(b, 5*time.Second, func(m map[string]any) bool { return m["type"] == "subscribed" })
	// The prices function reads who is connected once a second
	// (push.Options.ConnectedUsersFor).
	time.Sleep(1200 * time.Millisecond)
	kc := kinesisClient(s)

	// Ticks stamped an hour ahead are newer than any simulated one, so each
	// valuation's asOf names the tick that caused it.
	base := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	n := 0
	tick := func() time.Duration {
		n++
		at := base.Add(time.Duration(n) * time.Millisecond)
		t0 := time.Now()
		publish(b, kc, "LATX", "100.5", at)
		ws.next(b, 10*time.Second, func(m map[string]any) bool {
			if m["type"] != "valuation" || m["portfolioId"] != id {
				return false
			}
			asOf, err := time.Parse(time.RFC3339Nano, m["asOf"].(string))
			return err == nil && asOf.Equal(at)
		})
		return time.Since(t0)
	}
	for range 5 {
		tick()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		lat = append(lat, tick())
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}
