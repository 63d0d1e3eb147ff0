package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/gatewayfake"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	gw     *gatewayfake.Server
	client *apigatewaymanagementapi.Client
	store  *wsconn.Store
}

// newEnv: the fake management API behind httptest, the real SDK client pointed at it (as the
// deployed function is at the stage URL), and a connections table in DynamoDB Local.
func newEnv(t testing.TB) *env {
	t.Helper()
	gw := gatewayfake.New()
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return &env{gw: gw, client: push.NewManagementClient(cfg, srv.URL+"/test"), store: wsconntest.Store(t, wsconn.Options{MaxPerUser: 100})} // fan-out tests: many connections a user
}

// connect opens a connection on both sides: in the fake gateway and in the table.
func (e *env) connect(t testing.TB, id, user string) {
	t.Helper()
	e.gw.Connect(id)
	if _, err := e.store.Put(context.Background(), id, user); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, s *wsconn.Store, id string) bool {
	t.Helper()
	_, err := s.Get(context.Background(), id)
	if err != nil && !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestNotifyFansOutAndDeletesGoneConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.connect(t, "a1", "user-a")
	e.connect(t, "a2", "user-a")
	e.connect(t, "b1", "user-b")
	e.connect(t, "c1", "user-c")
	// a-stale is in the table, but the browser went away without a $disconnect.
	if _, err := e.store.Put(ctx, "a-stale", "user-a"); err != nil {
		t.Fatal(err)
	}
	p := push.New(e.client, e.store, push.Options{})
	msg := map[string]any{"type": push.TypePrice, "symbol": "AAPL", "price": "190.50"}
	res, err := p.Fanout(ctx, []string{"user-a", "user-b", "user-a", "nobody"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if res != (push.Result{Connections: 4, Sent: 3, Gone: 1}) {
		t.Fatalf("result %+v", res)
	}
	for _, id := range []string{"a1", "a2", "b1"} {
		got := e.gw.Messages(id)
		if len(got) != 1 || string(got[0]) != `{"price":"190.50","symbol":"AAPL","type":"price"}` {
			t.Errorf("%s received %q", id, got)
		}
	}
	if got := e.gw.Messages("c1"); len(got) != 0 {
		t.Errorf("user c received %q", got)
	}
	if stored(t, e.store, "a-stale") {
		t.Error("the gone connection is still in the table")
	}
	for _, id := range []string{"a1", "a2", "b1", "c1"} {
		if !stored(t, e.store, id) {
			t.Errorf("live connection %s was deleted", id)
		}
	}
	// Notify, the producers' entry point, says the same without counts.
	if err := p.Notify(ctx, []string{"user-b"}, json.RawMessage(`{"type":"alert","id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.gw.Messages("b1"); len(got) != 2 || string(got[1]) != `{"type":"alert","id":"x"}` {
		t.Errorf("b1 received %q", got)
	}
}

func TestSendGoneDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.connect(t, "c1", "u")
	p := push.New(e.client, e.store, push.Options{})
	if err := p.Send(ctx, "c1", map[string]string{"type": "pong"}); err != nil {
		t.Fatal(err)
	}
	e.gw.Disconnect("c1")
	if err := p.Send(ctx, "c1", map[string]string{"type": "pong"}); !errors.Is(err, push.ErrGone) {
		t.Fatalf("send to a closed connection: %v", err)
	}
	if stored(t, e.store, "c1") {
		t.Fatal("gone connection still stored")
	}
}

func TestMessageTooLarge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.connect(t, "c1", "u")
	p := push.New(e.client, e.store, push.Options{})
	big := `"` + strings.Repeat("x", push.MaxMessageBytes-2) + `"` // exactly 128 KB of JSON
	if err := p.Notify(ctx, []string{"u"}, json.RawMessage(big)); err != nil {
		t.Fatalf("128 KB: %v", err)
	}
	var tooLarge *push.MessageTooLargeError
	err := p.Notify(ctx, []string{"u"}, map[string]string{"type": "valuation", "x": strings.Repeat("x", push.MaxMessageBytes)})
	if !errors.As(err, &tooLarge) || tooLarge.Size <= push.MaxMessageBytes {
		t.Fatalf("over 128 KB: %v", err)
	}
	if n := len(e.gw.Messages("c1")); n != 1 {
		t.Fatalf("%d messages delivered, want only the 128 KB one", n)
	}
}

func TestBoundedConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var inFlight, maxInFlight atomic.Int64
	e.gw.Hook = func(r *http.Request, _ string) int {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return 0
	}
	var users []string
	for u := range 10 {
		users = append(users, fmt.Sprintf("user-%d", u))
		for c := range 6 {
			e.connect(t, fmt.Sprintf("c-%d-%d", u, c), users[u])
		}
	}
	const bound = 5
	res, err := push.New(e.client, e.store, push.Options{Concurrency: bound}).Fanout(ctx, users, map[string]string{"type": "price"})
	if err != nil || res.Sent != 60 {
		t.Fatalf("%+v %v", res, err)
	}
	if m := maxInFlight.Load(); m > bound || m < 2 {
		t.Fatalf("max in flight %d, want 2..%d", m, bound)
	}
	t.Logf("max in flight %d (bound %d)", maxInFlight.Load(), bound)
}

func TestHangingConnectionDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var hangStart time.Time
	e.gw.Hook = func(r *http.Request, id string) int {
		if id == "hang" {
			mu.Lock()
			hangStart = time.Now()
			mu.Unlock()
			<-r.Context().Done() // never answers; the client gives up
			return http.StatusInternalServerError
		}
		mu.Lock()
		arrived[id] = time.Now()
		mu.Unlock()
		return 0
	}
	e.connect(t, "hang", "user-a")
	for i := range 30 {
		e.connect(t, fmt.Sprintf("c%02d", i), "user-a")
	}
	// Generous, so a loaded CI machine cannot make the others look held up.
	const timeout = 3 * time.Second
	// Concurrency 2: the hanging post holds one slot, the 30 others share the second.
	p := push.New(e.client, e.store, push.Options{Concurrency: 2, PostTimeout: timeout})
	start := time.Now()
	res, err := p.Fanout(ctx, []string{"user-a"}, map[string]string{"type": "price"})
	elapsed := time.Since(start)
	var de *push.DeliveryError
	if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a DeliveryError with the timeout, got %v", err)
	}
	if res.Sent != 30 || res.Failed != 1 || res.Gone != 0 {
		t.Fatalf("result %+v", res)
	}
	// Measured from when the hanging post began (the connection lookup before it
	// is DynamoDB's time, not the pusher's).
	for id, at := range arrived {
		if d := at.Sub(hangStart); d >= timeout {
			t.Errorf("%s arrived %v after the hanging post began: held up by it", id, d)
		}
	}
	if elapsed > timeout+2*time.Second {
		t.Errorf("Notify took %v with a %v post timeout", elapsed, timeout)
	}
	if !stored(t, e.store, "hang") {
		t.Error("a slow connection must not be deleted")
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var mu sync.Mutex
	seen := map[string]int{}
	e.gw.Hook = func(r *http.Request, id string) int {
		mu.Lock()
		defer mu.Unlock()
		seen[id]++
		if id == "always" || seen[id] <= 2 {
			return http.StatusTooManyRequests
		}
		return 0
	}
	for _, id := range []string{"c1", "c2", "c3", "always"} {
		e.connect(t, id, "u")
	}
	p := push.New(e.client, e.store, push.Options{RetryBackoff: 5 * time.Millisecond, MaxAttempts: 4})
	res, err := p.Fanout(ctx, []string{"u"}, map[string]string{"type": "price"})
	var de *push.DeliveryError
	var limit *types.LimitExceededException
	if !errors.As(err, &de) || !errors.As(err, &limit) {
		t.Fatalf("want the throttled connection's error, got %v", err)
	}
	if res.Sent != 3 || res.Failed != 1 || res.Throttled != 3*2+4 {
		t.Fatalf("result %+v", res)
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if n := len(e.gw.Messages(id)); n != 1 {
			t.Errorf("%s got %d messages", id, n)
		}
	}
	if !stored(t, e.store, "always") {
		t.Error("a throttled connection must not be deleted")
	}
}

// The fake answers the whole management API as API Gateway does, through the real client.
func TestGatewayFakeContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.gw.Connect("c1=")
	out, err := e.client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("c1=")})
	if err != nil || out.ConnectedAt == nil || out.Identity == nil || aws.ToString(out.Identity.SourceIp) == "" {
		t.Fatalf("GetConnection: %+v %v", out, err)
	}
	if _, err := e.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("c1="), Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String("c1=")}); err != nil {
		t.Fatal(err)
	}
	var gone *types.GoneException
	if _, err := e.client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("c1=")}); !errors.As(err, &gone) {
		t.Fatalf("GetConnection after delete: %v", err)
	}
	if _, err := e.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("c1="), Data: []byte(`{}`)}); !errors.As(err, &gone) {
		t.Fatalf("PostToConnection after delete: %v", err)
	}
	if _, err := e.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String("c1=")}); !errors.As(err, &gone) {
		t.Fatalf("DeleteConnection twice: %v", err)
	}
	e.gw.Connect("c2")
	var tooLarge *types.PayloadTooLargeException
	if _, err := e.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("c2"),
		Data: make([]byte, gatewayfake.MaxMessageBytes+1)}); !errors.As(err, &tooLarge) {
		t.Fatalf("oversized post: %v", err)
	}
}

func TestFanoutWhereFiltersBySubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for _, c := range [][2]string{{"a1", "user-a"}, {"a2", "user-a"}, {"b1", "user-b"}} {
		e.connect(t, c[0], c[1])
	}
	if _, err := e.store.Subscribe(ctx, "a2", []string{"pa"}, []string{"AAPL"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Subscribe(ctx, "b1", nil, []string{"AAPL"}); err != nil {
		t.Fatal(err)
	}
	p := push.New(e.client, e.store, push.Options{})
	res, err := p.FanoutWhere(ctx, []string{"user-a", "user-b"}, func(c wsconn.Connection) bool { return c.SubscribedToPortfolio("pa") },
		map[string]string{"type": push.TypeValuation})
	if err != nil || res != (push.Result{Connections: 1, Sent: 1}) {
		t.Fatalf("portfolio: %+v %v", res, err)
	}
	res, err = p.FanoutWhere(ctx, []string{"user-a", "user-b"}, func(c wsconn.Connection) bool { return c.SubscribedToSymbol("AAPL") },
		map[string]string{"type": push.TypePrice})
	if err != nil || res.Sent != 2 {
		t.Fatalf("symbol: %+v %v", res, err)
	}
	if n := [3]int{len(e.gw.Messages("a1")), len(e.gw.Messages("a2")), len(e.gw.Messages("b1"))}; n != [3]int{0, 2, 1} {
		t.Fatalf("messages per connection %v", n)
	}
}

// The pusher is the prices consumer's subscription-aware notifier.
var _ pricing.SubscriptionNotifier = (*push.Pusher)(nil)

// NotifyEach posts each connection exactly the messages picked for it, and a
// connection that closed meanwhile is cleaned up as with Notify.
func TestNotifyEachPicksPerConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for _, c := range [][2]string{{"a1", "user-a"}, {"a2", "user-a"}, {"b1", "user-b"}, {"b2", "user-b"}} {
		e.connect(t, c[0], c[1])
	}
	if _, err := e.store.Subscribe(ctx, "a2", []string{"pa"}, []string{"AAPL"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Subscribe(ctx, "b1", []string{"pb"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Subscribe(ctx, "b2", []string{"pb"}, nil); err != nil {
		t.Fatal(err)
	}
	e.gw.Disconnect("b2")
	p := push.New(e.client, e.store, push.Options{})
	err := p.NotifyEach(ctx, []string{"user-a", "user-b", "user-c"}, func(c wsconn.Connection) []any {
		var out []any
		for _, id := range c.Portfolios {
			out = append(out, map[string]string{"type": "valuation", "portfolioId": id})
		}
		if c.SubscribedToSymbol("AAPL") {
			out = append(out, map[string]string{"type": "price", "symbol": "AAPL"})
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, id := range []string{"a1", "a2", "b1"} {
		got[id] = len(e.gw.Messages(id))
	}
	if got["a1"] != 0 || got["a2"] != 2 || got["b1"] != 1 {
		t.Errorf("messages per connection %v, want a1:0 a2:2 b1:1", got)
	}
	if string(e.gw.Messages("b1")[0]) != `{"portfolioId":"pb","type":"valuation"}` {
		t.Errorf("b1 got %s", e.gw.Messages("b1")[0])
	}
	if stored(t, e.store, "b2") {
		t.Error("the closed connection's item was not deleted")
	}
}

// lookupCounter is the real store, counting the users whose connections are read.
type lookupCounter struct {
	*wsconn.Store
	mu    sync.Mutex
	users map[string]int
}

func (l *lookupCounter) ConnectionsByUser(ctx context.Context, user string) ([]wsconn.Connection, error) {
	l.mu.Lock()
	l.users[user]++
	l.mu.Unlock()
	return l.Store.ConnectionsByUser(ctx, user)
}

// TestConnectedUsersNarrowLookups: with ConnectedUsersFor, a fan-out reads the
// connections of the users online when the list was read, not those of every
// user; a user who connects later is served once the list is read again.
func TestConnectedUsersNarrowLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.connect(t, "a1", "user-a")
	store := &lookupCounter{Store: e.store, users: map[string]int{}}
	const period = 1500 * time.Millisecond // ample for the two fan-outs before it lapses, even on a loaded machine
	p := push.New(e.client, store, push.Options{ConnectedUsersFor: period})
	everyone := []string{"user-a", "user-b", "user-c", "user-d"}
	send := func() {
		t.Helper()
		if err := p.NotifyEach(ctx, everyone, func(wsconn.Connection) []any { return []any{map[string]string{"type": "ping"}} }); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if len(store.users) != 1 || store.users["user-a"] != 1 || len(e.gw.Messages("a1")) != 1 {
		t.Fatalf("looked up %v, a1 got %d messages: want user-a only, once", store.users, len(e.gw.Messages("a1")))
	}
	// b connects: the list read a moment ago does not have b yet.
	e.connect(t, "b1", "user-b")
	send()
	if store.users["user-b"] != 0 || len(e.gw.Messages("b1")) != 0 {
		t.Fatalf("b was looked up (%v) before the list was read again", store.users)
	}
	time.Sleep(period + 50*time.Millisecond)
	send()
	if store.users["user-b"] != 1 || len(e.gw.Messages("b1")) != 1 || store.users["user-c"] != 0 || store.users["user-d"] != 0 {
		t.Fatalf("after the list was read again: looked up %v, b1 got %d messages", store.users, len(e.gw.Messages("b1")))
	}
	// Without the option every user is looked up.
	all := &lookupCounter{Store: e.store, users: map[string]int{}}
	if err := push.New(e.client, all, push.Options{}).NotifyEach(ctx, everyone, func(wsconn.Connection) []any { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all.users) != len(everyone) {
		t.Fatalf("without ConnectedUsersFor: looked up %v, want all %d users", all.users, len(everyone))
	}
}

// TestOneUsersHangingConnectionsTakeOnlyTheirShare: a user whose ten connections
// all hang (three messages each, first in line) holds at most MaxPerUser of the
// four slots, so every other user's messages arrive while those posts hang; each
// hanging connection is then attempted once, not once per message.
func TestOneUsersHangingConnectionsTakeOnlyTheirShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	release := make(chan struct{})
	var hostilePosts, hostileInFlight, hostileMax atomic.Int64
	e.gw.Hook = func(r *http.Request, id string) int {
		if !strings.HasPrefix(id, "h") {
			return 0
		}
		hostilePosts.Add(1)
		n := hostileInFlight.Add(1)
		defer hostileInFlight.Add(-1)
		for m := hostileMax.Load(); n > m && !hostileMax.CompareAndSwap(m, n); m = hostileMax.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusInternalServerError
	}
	users := []string{"hostile"}
	for i := range 10 {
		e.connect(t, fmt.Sprintf("h%d", i), "hostile")
	}
	for i := range 20 {
		users = append(users, fmt.Sprint("user-", i))
		e.connect(t, fmt.Sprintf("c%d", i), users[i+1])
	}
	p := push.New(e.client, e.store, push.Options{Concurrency: 4, MaxPerUser: 2, PostTimeout: time.Minute})
	done := make(chan error, 1)
	go func() {
		done <- p.NotifyEach(ctx, users, func(wsconn.Connection) []any {
			return []any{map[string]int{"n": 1}, map[string]int{"n": 2}, map[string]int{"n": 3}}
		})
	}()
	othersServed := func() bool {
		for i := range 20 {
			if len(e.gw.Messages(fmt.Sprintf("c%d", i))) != 3 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !othersServed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the other users were not served while the hostile user's posts hung (%d of those in flight)", hostileInFlight.Load())
		}
	}
	close(release)
	var de *push.DeliveryError
	if err := <-done; !errors.As(err, &de) || de.Result.Sent != 60 || de.Result.Failed != 30 {
		t.Fatalf("result %v, want 60 sent and the hostile user's 30 failed", err)
	}
	if n, m := hostilePosts.Load(), hostileMax.Load(); n != 10 || m > 2 {
		t.Fatalf("%d posts to the hostile user's connections (want 10: one each), at most %d at once (want ≤ 2)", n, m)
	}
}
