package push_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
)

// BenchmarkNotify: one Notify to 1,000 connections of 100 users, looked up in DynamoDB Local
// (100 byUser queries) and posted through the real SDK client to the httptest gateway.
func BenchmarkNotify(b *testing.B) {
	const users, perUser = 100, 10
	e := newEnv(b)
	var ids []string
	for u := range users {
		ids = append(ids, fmt.Sprintf("user-%03d", u))
		for c := range perUser {
			e.connect(b, fmt.Sprintf("c-%03d-%02d", u, c), ids[u])
		}
	}
	msg := map[string]any{"type": push.TypePrice, "symbol": "AAPL", "price": "190.50", "currency": "USD"}
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			p := push.New(e.client, e.store, push.Options{Concurrency: conc})
			ctx := context.Background()
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				res, err := p.Fanout(ctx, ids, msg)
				if err != nil || res.Sent != users*perUser {
					b.Fatalf("%+v %v", res, err)
				}
			}
			b.ReportMetric(float64(b.N*users*perUser)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// staticLookup answers the lookups from memory, to measure the posting path alone; deletes go
// to the real table.
type staticLookup struct {
	push.Connections
	ids map[string][]string
}

func (s staticLookup) ConnectionIDsByUser(_ context.Context, user string) ([]string, error) {
	return s.ids[user], nil
}

// BenchmarkPostsOnly: BenchmarkNotify without the DynamoDB lookups.
func BenchmarkPostsOnly(b *testing.B) {
	const users, perUser = 100, 10
	e := newEnv(b)
	lookup := staticLookup{Connections: e.store, ids: map[string][]string{}}
	var ids []string
	for u := range users {
		ids = append(ids, fmt.Sprintf("user-%03d", u))
		for c := range perUser {
			id := fmt.Sprintf("c-%03d-%02d", u, c)
			e.gw.Connect(id)
			lookup.ids[ids[u]] = append(lookup.ids[ids[u]], id)
		}
	}
	msg := map[string]any{"type": push.TypePrice, "symbol": "AAPL", "price": "190.50", "currency": "USD"}
	p := push.New(e.client, lookup, push.Options{Concurrency: 16})
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		res, err := p.Fanout(ctx, ids, msg)
		if err != nil || res.Sent != users*perUser {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*users*perUser)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkNotifyEachFewOnline: the prices consumer's fan-out, one NotifyEach to
// the owners of 1,000 users' portfolios of whom 50 are online (one connection
// each), looked up in DynamoDB Local, with every user queried and with the
// connected users read once a second.
func BenchmarkNotifyEachFewOnline(b *testing.B) {
	const users, online = 1000, 50
	e := newEnv(b)
	var ids []string
	for u := range users {
		ids = append(ids, fmt.Sprintf("user-%04d", u))
		if u%(users/online) == 0 {
			e.connect(b, fmt.Sprintf("c-%04d", u), ids[u])
		}
	}
	msg := map[string]any{"type": "valuation", "portfolioId": "p", "marketValue": "1000"}
	for _, mode := range []struct {
		name string
		opts push.Options
	}{{"every-user", push.Options{}}, {"connected-users", push.Options{ConnectedUsersFor: time.Second}}} {
		b.Run(mode.name, func(b *testing.B) {
			p := push.New(e.client, e.store, mode.opts)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := p.NotifyEach(ctx, ids, func(wsconn.Connection) []any { return []any{msg} }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
