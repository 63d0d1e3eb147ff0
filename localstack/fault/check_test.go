package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/localstack/esm"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/dynamosource"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// The stream consumers, and their mappings as the stack names them.
var consumers = []string{"projector", "analytics", "prices"}

var (
	mappingProjector = "projector<-" + topology.EventsTable
	mappingAnalytics = "analytics<-" + topology.EventsTable
	mappingPrices    = "prices<-" + topology.MarketDataStream
)

// ---------------------------------------------------------------- convergence

// lag is how far the read models are behind what the scenario wrote.
type lag struct {
	projector int64 // event versions in the store the projection checkpoints have not reached
	analytics int64 // event versions the portfolios' analytics have not reached
	ticks     int   // symbols whose latest price (Postgres or DynamoDB) is not the last tick
	poison    int   // poison records not yet on a destination that must receive them
}

func (g lag) zero() bool { return g == lag{} }

func (g lag) String() string {
	return fmt.Sprintf("projector %d versions behind, analytics %d, latest prices of %d symbols, %d poison records not on their destination",
		g.projector, g.analytics, g.ticks, g.poison)
}

// storeVersion is an aggregate's latest version in the event store.
func (h *harness) storeVersion(ctx context.Context, id string) (int64, error) {
	out, err := h.ddb.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(h.eventsTable),
		KeyConditionExpression:    aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": eventstore.AttrAggregateID, "#v": eventstore.AttrVersion},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":id": &ddbtypes.AttributeValueMemberS{Value: id}},
		ProjectionExpression:      aws.String("#v"),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("latest version of %s: %w", id, err)
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	n, ok := out.Items[0][eventstore.AttrVersion].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("latest version of %s: not a number", id)
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// versions returns each of the scenario's portfolios' latest version in the
// store, and what the projection checkpoints and the analytics rows say.
func (h *harness) versions(ctx context.Context, sc *scenario) (store, projected, analyzed map[string]int64, err error) {
	store, projected, analyzed = map[string]int64{}, map[string]int64{}, map[string]int64{}
	ids := sc.portfolios()
	for _, id := range ids {
		if store[id], err = h.storeVersion(ctx, id); err != nil {
			return nil, nil, nil, err
		}
	}
	for q, m := range map[string]map[string]int64{
		`select aggregate_id, version from projection_checkpoints where aggregate_id = any($1)`:            projected,
		`select portfolio_id, max(version) from portfolio_metrics where portfolio_id = any($1) group by 1`: analyzed,
	} {
		rows, err := h.live.Query(ctx, q, ids)
		if err != nil {
			return nil, nil, nil, err
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, nil, nil, err
			}
			m[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, nil, err
		}
	}
	return store, projected, analyzed, nil
}

// lagOf measures how far the read models are behind the scenario's writes.
func (h *harness) lagOf(ctx context.Context, sc *scenario, l *load) (lag, error) {
	var g lag
	store, projected, analyzed, err := h.versions(ctx, sc)
	if err != nil {
		return g, err
	}
	for id, v := range store {
		g.projector += max(0, v-projected[id])
		g.analytics += max(0, v-analyzed[id])
	}
	latest := dynamoprices.NewLatest(h.ddb, h.pricesTable)
	l.tickMu.Lock()
	last := maps.Clone(l.lastTick)
	l.tickMu.Unlock()
	for sym, ev := range last {
		var asOf time.Time
		err := h.live.QueryRow(ctx, `select as_of from latest_prices where symbol = $1`, sym).Scan(&asOf)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return g, err
		}
		q, ok, err := latest.Get(ctx, sym)
		if err != nil {
			return g, err
		}
		if !asOf.Equal(ev.Timestamp) || !ok || !q.Timestamp.Equal(ev.Timestamp) {
			g.ticks++
		}
	}
	if len(sc.poisonOn) > 0 {
		ds, err := h.discardedSince(ctx, sc)
		if err != nil {
			return g, err
		}
		g.poison = len(missingPoison(sc, ds))
	}
	return g, nil
}

// missingPoison lists the (mapping, poison) pairs not among ds.
func missingPoison(sc *scenario, ds []discarded) []string {
	found := map[string]bool{}
	for _, d := range ds {
		if d.poison {
			found[d.mapping+" "+d.key] = true
		}
	}
	var out []string
	for _, m := range sc.poisonOn {
		for _, p := range append(slices.Clone(sc.poisonAggs), sc.poisonSeqs...) {
			if !found[m+" "+p] {
				out = append(out, m+": "+p)
			}
		}
	}
	return out
}

// idle reports whether no stream consumer is running an invocation.
func (h *harness) idle() bool {
	for _, fn := range consumers {
		if st := h.st.Runtime().Stats(fn); st.Instances != st.Idle {
			return false
		}
	}
	return true
}

// converge waits until the read models hold everything the scenario wrote, and
// returns how long that took from the end of the fault; before it returns, the
// mappings must also have settled (see settled), so that the destinations are
// read once nothing more can reach them. It gives up after maxWait, or once
// nothing has moved for stallAfter with the consumers idle: what was given up on
// will not come back.
func (h *harness) converge(ctx context.Context, sc *scenario, l *load) (took time.Duration, last lag, ok bool) {
	const maxWait, stallAfter = 60 * time.Second, 10 * time.Second
	start := time.Now()
	lastMove := start
	var prev lag
	for time.Since(start) < maxWait && ctx.Err() == nil {
		g, err := h.lagOf(ctx, sc, l)
		switch {
		case err != nil:
			// The read model or the store is not answering yet (an outage just
			// ended): keep waiting.
			lastMove = time.Now()
		case g.zero():
			at := time.Now()
			if h.settled(ctx) {
				if g2, err := h.lagOf(ctx, sc, l); err == nil && g2.zero() {
					return at.Sub(sc.faultEnd), g, true
				}
			}
		default:
			if g != prev {
				lastMove = time.Now()
			}
			if time.Since(lastMove) > stallAfter && h.idle() {
				return time.Since(sc.faultEnd), g, false
			}
		}
		prev, last = g, g
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(sc.faultEnd), last, false
}

// settled waits until no mapping has invoked its function for quietFor (longer
// than a mapping's longest back-off between retries, 2 s) and no consumer is
// running: a batch being retried after the read models caught up (a killed
// batch's halves, a poison's retries) has then been delivered or given up. It
// reports false if that did not happen within 30 s.
func (h *harness) settled(ctx context.Context) bool {
	const quietFor, within = 2500 * time.Millisecond, 30 * time.Second
	invocations := func() (int64, error) {
		st, err := h.mappingStats(ctx)
		var n int64
		for _, s := range st {
			n += s.Invocations
		}
		return n, err
	}
	last, err := invocations()
	if err != nil {
		return false
	}
	quietSince := time.Now()
	for deadline := time.Now().Add(within); time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(100 * time.Millisecond)
		n, err := invocations()
		if err != nil {
			return false
		}
		if n != last || !h.idle() {
			last, quietSince = n, time.Now()
			continue
		}
		if time.Since(quietSince) >= quietFor {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- the replay

// replayDB creates a fresh database beside the live one, with every migration.
func (h *harness) replayDB(ctx context.Context, name string) (*pgxpool.Pool, func(), error) {
	admin, err := pgx.Connect(ctx, h.st.URLs.Postgres)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "drop database if exists "+ident); err != nil {
		return nil, nil, err
	}
	if _, err := admin.Exec(ctx, "create database "+ident); err != nil {
		return nil, nil, err
	}
	dsn := strings.Replace(h.st.URLs.Postgres, "/tracker?", "/"+name+"?", 1)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{MaxConns: 4, ApplicationName: "fault-replay"})
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		pool.Close()
		if c, err := pgx.Connect(context.Background(), h.st.URLs.Postgres); err == nil {
			_, _ = c.Exec(context.Background(), "drop database if exists "+ident+" with (force)")
			_ = c.Close(context.Background())
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		drop()
		return nil, nil, err
	}
	defer conn.Release()
	if _, err := readmodel.Migrate(ctx, conn.Conn()); err != nil {
		drop()
		return nil, nil, fmt.Errorf("migrate the replay database: %w", err)
	}
	return pool, drop, nil
}

// scopedSource is the events table limited to the scenario's portfolios.
type scopedSource struct {
	*dynamosource.Source
	ids []string
}

func (s scopedSource) AggregateIDs(context.Context) ([]string, error) { return s.ids, nil }

// replay rebuilds what the scenario's events and ticks produce from scratch, in
// a database of its own: the projections through readmodel.Rebuild (the
// operator's `tracker replay`), the prices read models through the prices
// consumer fed every tick on the stream in order (with the scenario's alert
// rules as the users created them), and the analytics through the analytics job
// recomputing each portfolio, as its stream handler does.
func (h *harness) replay(ctx context.Context, sc *scenario, pool *pgxpool.Pool) error {
	quiet := slog.New(slog.DiscardHandler)
	src := scopedSource{Source: dynamosource.New(h.ddb, h.eventsTable, 1), ids: sc.portfolios()}
	if _, err := readmodel.Rebuild(ctx, pool, src, readmodel.RebuildOptions{Logger: quiet}); err != nil {
		return fmt.Errorf("rebuild the projections: %w", err)
	}

	// Alert rules are settings, not events: copied as created, without state.
	rows, err := h.live.Query(ctx, `select id, user_id::text, kind, symbol, portfolio_id, definition::text, created_at
		from alert_rules where user_id = any($1::uuid[])`, sc.userIDs())
	if err != nil {
		return err
	}
	type ruleRow struct {
		id, user, kind, symbol, portfolio, def string
		created                                time.Time
	}
	var rules []ruleRow
	for rows.Next() {
		var r ruleRow
		if err := rows.Scan(&r.id, &r.user, &r.kind, &r.symbol, &r.portfolio, &r.def, &r.created); err != nil {
			rows.Close()
			return err
		}
		rules = append(rules, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rules {
		if _, err := pool.Exec(ctx, `insert into alert_rules (id, user_id, kind, symbol, portfolio_id, definition, created_at)
			values ($1, $2::uuid, $3, $4, $5, $6::jsonb, $7)`, r.id, r.user, r.kind, r.symbol, r.portfolio, r.def, r.created); err != nil {
			return err
		}
	}
	byShard, err := h.marketRecords(ctx, sc)
	if err != nil {
		return err
	}
	prices := prices.New(prices.Config{Latest: &memoryLatest{}, DB: readmodel.NewPricesConsumerStore(pool), Alerts: readmodel.NewConsumerAlertRules(pool),
		Currency: topologyEnv("prices", "PRICE_CURRENCY", "USD"), Logger: quiet})
	for shard, recs := range byShard {
		for len(recs) > 0 {
			n := min(len(recs), 500)
			resp, st, err := prices.Process(ctx, recs[:n])
			if err != nil {
				return fmt.Errorf("replay of the ticks of %s: %w", shard, err)
			}
			if len(resp) > 0 {
				return fmt.Errorf("replay of the ticks of %s: %d records failed (%+v)", shard, len(resp), st)
			}
			recs = recs[n:]
		}
	}

	snapshotEvery, _ := strconv.Atoi(topologyEnv("analytics", "SNAPSHOT_EVERY", "10"))
	riskFree, _ := strconv.ParseFloat(topologyEnv("analytics", "RISK_FREE_RATE", "0"), 64)
	// The day the live figures were computed on (the analytics' day is New
	// York's): a replay just after midnight there would otherwise compute the
	// next day's row.
	now := time.Now()
	var day *time.Time
	if err := h.live.QueryRow(ctx, `select max(as_of) from portfolio_metrics where portfolio_id = any($1)`, sc.portfolios()).Scan(&day); err != nil {
		return err
	}
	if day != nil {
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			return err
		}
		now = time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, ny)
	}
	store := dynamostore.New(h.ddb, h.eventsTable, dynamostore.Options{SnapshotEvery: snapshotEvery})
	analytics := analyticsjob.New(command.New(store, command.Options{SnapshotEvery: snapshotEvery, Logger: quiet}), readmodel.NewMetrics(pool),
		analyticsjob.Options{Settings: analyticsjob.Settings{Benchmark: topologyEnv("analytics", "BENCHMARK_SYMBOL", ""), RiskFreeRate: riskFree},
			Now: func() time.Time { return now }, Logger: quiet, Metrics: io.Discard})
	var batch analyticsjob.StreamBatch
	for i, id := range sc.portfolios() {
		batch.Changes = append(batch.Changes, analyticsjob.Change{PortfolioID: id, ItemID: strconv.Itoa(i + 1)})
	}
	out, err := analytics.Recompute(ctx, batch)
	if err != nil {
		return fmt.Errorf("replay of the analytics: %w", err)
	}
	if len(out.FailedItems) > 0 {
		return fmt.Errorf("replay of the analytics: %d portfolios failed", len(out.FailedItems))
	}
	return nil
}

// topologyEnv is a function's setting as the topology (and so the stack) gives it.
func topologyEnv(function, name, def string) string {
	if f, ok := topology.FunctionByName(function); ok {
		if s, ok := f.SettingByName(name); ok && s.Value != "" {
			return s.Value
		}
	}
	return def
}

// memoryLatest is the DynamoDB prices table's rule (newest wins) in memory.
type memoryLatest struct {
	mu sync.Mutex
	m  map[string]marketdata.Quote
}

func (m *memoryLatest) Put(_ context.Context, q marketdata.Quote, _ string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]marketdata.Quote{}
	}
	if old, ok := m.m[q.Symbol]; ok && !old.Timestamp.Before(q.Timestamp) {
		return false, nil
	}
	m.m[q.Symbol] = q
	return true, nil
}

// marketRecords reads every record of the scenario's symbols from the
// market-data stream, per shard in order, as the mapping delivers them; the
// scenario's poison records are left out (no replay applies them).
func (h *harness) marketRecords(ctx context.Context, sc *scenario) (map[string][]prices.Record, error) {
	mine := map[string]bool{}
	for _, s := range sc.symbols {
		mine[s] = true
	}
	out := map[string][]prices.Record{}
	shards, err := h.kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(h.marketStream)})
	if err != nil {
		return nil, err
	}
	for _, sh := range shards.Shards {
		shard := aws.ToString(sh.ShardId)
		it, err := h.kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(h.marketStream),
			ShardId: aws.String(shard), ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, err
		}
		iter := it.ShardIterator
		for iter != nil {
			page, err := h.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, err
			}
			for _, r := range page.Records {
				seq := aws.ToString(r.SequenceNumber)
				if !mine[aws.ToString(r.PartitionKey)] || slices.Contains(sc.poisonSeqs, seq) {
					continue
				}
				out[shard] = append(out[shard], prices.Record{SequenceNumber: seq, PartitionKey: aws.ToString(r.PartitionKey), ShardID: shard,
					Data: r.Data})
			}
			if len(page.Records) == 0 || aws.ToInt64(page.MillisBehindLatest) == 0 && len(page.Records) < 10000 {
				break
			}
			iter = page.NextShardIterator
		}
	}
	return out, nil
}

// ---------------------------------------------------------------- row by row

// scope names the set of keys a table is filtered on for a scenario.
type scope int

const (
	byPortfolio scope = iota
	bySymbol
	byUser
)

// table is one read model table as the comparison reads it.
type table struct {
	name   string
	key    string // SQL of the row's key, text
	where  string // filter on $1, the scenario's keys of the scope
	scope  scope
	ignore []string // columns that legitimately differ, and why (see below)
	// value, when set, is the SQL of the compared value in place of the row's
	// JSON less ignore (x is the row).
	value string
	// projector tables: a row differing while the aggregate's checkpoint is at the
	// store's version is an event applied twice (or wrongly).
	projector bool
}

// compared are every read model table a fault could leave wrong, and what may
// legitimately differ between the live rows and the replay's:
//   - computed_at (analytics): when the figures were written, not what they are.
//   - acknowledged_at (alert_history): a user's action, not the stream's.
//   - state.lastAt (alert_rules): the time of the last tick a rule evaluated. The
//     consumer saves a rule's state only when it fires or re-arms
//     (alerts.Engine.TakeChanged), so this one field depends on where batches
//     begin and end; fired, epoch and firedAt do not.
//
// Not compared, and why:
//   - projection_failures: an operator's log of deliveries that failed (first and
//     last seen, attempts), not state derived from the events; the report lists
//     what the live one holds.
//   - valuations and alert_value_samples: each is the value of the positions held
//     at the moment a tick arrived; a replay after the fact values the final
//     positions. Their key (portfolio, as_of) is what keeps a batch processed twice
//     from recording twice.
//   - holding_marks, alert_state_marks: cache invalidation tokens (random).
//   - analytics_status: written by the scheduled runs, which the test leaves out.
//   - profiles, symbol_watchers: Supabase Auth's and the WebSocket API's, no stream's.
//   - suggestions: the backfill's offers and their owners' decisions, no stream's.
var compared = []table{
	{name: "portfolios", key: "id", where: "id = any($1)", projector: true},
	{name: "transactions", key: "transaction_id", where: "portfolio_id = any($1)", projector: true},
	{name: "positions", key: "portfolio_id || '/' || symbol", where: "portfolio_id = any($1)", projector: true},
	{name: "portfolio_totals", key: "portfolio_id", where: "portfolio_id = any($1)", projector: true},
	{name: "targets", key: "portfolio_id || '/' || symbol", where: "portfolio_id = any($1)", projector: true},
	{name: "projection_checkpoints", key: "aggregate_id", where: "aggregate_id = any($1)", projector: true},
	{name: "portfolio_metrics", key: "portfolio_id || '/' || as_of", where: "portfolio_id = any($1)", ignore: []string{"computed_at"}},
	{name: "portfolio_series", key: "portfolio_id", where: "portfolio_id = any($1)", ignore: []string{"computed_at"}},
	{name: "portfolio_rebalancing", key: "portfolio_id", where: "portfolio_id = any($1)", ignore: []string{"computed_at"}},
	{name: "latest_prices", key: "symbol", where: "symbol = any($1)", scope: bySymbol},
	{name: "daily_closes", key: "symbol || '/' || day", where: "symbol = any($1)", scope: bySymbol},
	{name: "alert_history", key: "firing_key", where: "user_id = any($1::uuid[])", scope: byUser, ignore: []string{"acknowledged_at"}},
	{name: "alert_rules", key: "id", where: "user_id = any($1::uuid[])", scope: byUser,
		value: `(to_jsonb(x) - 'state') || jsonb_build_object('state', x.state - 'lastAt')`},
}

// diff is one table's comparison.
type diff struct {
	table                    string
	replayRows               int      // rows the replay holds for the scenario
	missing, extra, differ   []string // keys: in the replay only, in the live table only, in both with other values
	examples                 []string
	projectorRowsOfAggregate map[string]int // per portfolio: rows extra or differing (projector tables)
}

func (d diff) rows() int { return len(d.missing) + len(d.extra) + len(d.differ) }

func (s *scenario) keysOf(sc scope) []string {
	switch sc {
	case bySymbol:
		return s.symbols
	case byUser:
		return s.userIDs()
	}
	return s.portfolios()
}

func readRows(ctx context.Context, db *pgxpool.Pool, t table, keys []string) (map[string]string, error) {
	value := t.value
	if value == "" {
		value = "to_jsonb(x) - $2::text[]"
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`select (%s)::text, (%s)::text from public.%s x where %s and $2::text[] is not null`,
		t.key, value, pgx.Identifier{t.name}.Sanitize(), t.where), keys, append([]string{}, t.ignore...))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.name, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// compare reads each table in the live database and in the replay, restricted
// to the scenario's portfolios, symbols and rules, and diffs them row by row.
func (h *harness) compare(ctx context.Context, sc *scenario, replay *pgxpool.Pool) ([]diff, error) {
	var out []diff
	for _, t := range compared {
		keys := sc.keysOf(t.scope)
		live, err := readRows(ctx, h.live, t, keys)
		if err != nil {
			return nil, err
		}
		want, err := readRows(ctx, replay, t, keys)
		if err != nil {
			return nil, err
		}
		d := diff{table: t.name, replayRows: len(want), projectorRowsOfAggregate: map[string]int{}}
		note := func(kind, k, detail string) {
			if len(d.examples) < 3 {
				d.examples = append(d.examples, fmt.Sprintf("%s %s: %s", kind, k, detail))
			}
			if t.projector && kind != "missing" {
				for _, p := range sc.portfolios() {
					if strings.HasPrefix(k, p) || strings.Contains(live[k], `"`+p+`"`) {
						d.projectorRowsOfAggregate[p]++
						break
					}
				}
			}
		}
		for k, v := range want {
			lv, ok := live[k]
			switch {
			case !ok:
				d.missing = append(d.missing, k)
				note("missing", k, truncate(v))
			case lv != v:
				d.differ = append(d.differ, k)
				note("differs", k, jsonDiff(lv, v))
			}
		}
		for k, v := range live {
			if _, ok := want[k]; !ok {
				d.extra = append(d.extra, k)
				note("extra", k, truncate(v))
			}
		}
		sort.Strings(d.missing)
		sort.Strings(d.extra)
		sort.Strings(d.differ)
		out = append(out, d)
	}
	return out, nil
}

// jsonDiff names the fields of two JSON objects that differ: live → replay.
func jsonDiff(live, replay string) string {
	var a, b map[string]any
	if json.Unmarshal([]byte(live), &a) != nil || json.Unmarshal([]byte(replay), &b) != nil {
		return truncate(live) + " ≠ " + truncate(replay)
	}
	var parts []string
	for k, bv := range b {
		av := a[k]
		as, _ := json.Marshal(av)
		bs, _ := json.Marshal(bv)
		if string(as) != string(bs) {
			parts = append(parts, fmt.Sprintf("%s live %s, replay %s", k, truncate(string(as)), truncate(string(bs))))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func truncate(s string) string {
	if len(s) > 160 {
		return strings.ToValidUTF8(s[:160], "") + "…"
	}
	return s
}

// ---------------------------------------------------------------- failure destinations

// failures reads the on-failure destinations through the admin endpoint: per
// mapping, every message, oldest first. A destination holds Lambda's records of
// the batches its mapping gave up on, and may hold its consumer's own records
// of events it set aside (they share the queue on AWS, the file locally).
func (h *harness) failures(ctx context.Context) (map[string][]json.RawMessage, error) {
	out := map[string][]json.RawMessage{}
	req, err := http.NewRequestWithContext(ctx, "GET", h.st.URLs.Admin+"/failures", nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /failures: HTTP %d %s", resp.StatusCode, body)
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// discardedSince returns what the destinations received since the scenario
// began: the stream records each of Lambda's failure records covers, and the
// events the consumers' own records name.
func (h *harness) discardedSince(ctx context.Context, sc *scenario) ([]discarded, error) {
	all, err := h.failures(ctx)
	if err != nil {
		return nil, err
	}
	if sc.discarded == nil {
		sc.discarded = map[string][]discarded{}
	}
	var out []discarded
	for mapping, msgs := range all {
		for _, m := range msgs[min(sc.failuresBefore[mapping], len(msgs)):] {
			ds, ok := sc.discarded[string(m)]
			if !ok {
				ds, err = h.discardedBy(ctx, sc, mapping, m)
				if err != nil && len(ds) == 0 {
					return nil, err // the stream did not answer: ask again later
				}
				if err != nil {
					sc.res.problem("a failure record of %s: %v", mapping, err)
				}
				sc.discarded[string(m)] = ds
			}
			out = append(out, ds...)
		}
	}
	return out, nil
}

// ownRecord is a consumer's own record of an event it set aside: it names the
// event (aggregate and version, or the stream record's sequence number), where
// Lambda's names a range of a shard.
type ownRecord struct {
	Consumer       string `json:"consumer"`
	AggregateID    string `json:"aggregateId"`
	Version        int64  `json:"version"`
	SequenceNumber string `json:"sequenceNumber"`
	Reason         string `json:"reason"`
}

// discardedBy tells what one destination message covers.
func (h *harness) discardedBy(ctx context.Context, sc *scenario, mapping string, m json.RawMessage) ([]discarded, error) {
	var probe struct {
		RequestContext json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(m, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", mapping, err)
	}
	if probe.RequestContext != nil {
		var f esm.Failure
		if err := json.Unmarshal(m, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", mapping, err)
		}
		return h.discardedRecords(ctx, sc, mapping, f)
	}
	var own ownRecord
	if err := json.Unmarshal(m, &own); err != nil || (own.AggregateID == "" && own.SequenceNumber == "") {
		return []discarded{{mapping: mapping, label: "a message naming no record: " + truncate(string(m))}}, nil
	}
	key := own.AggregateID
	if key == "" {
		key = own.SequenceNumber
	}
	return []discarded{{mapping: mapping, key: key,
		label:  fmt.Sprintf("%s v%d set aside by %s (%s)", own.AggregateID, own.Version, own.Consumer, truncate(own.Reason)),
		poison: slices.Contains(sc.poisonAggs, own.AggregateID) || slices.Contains(sc.poisonSeqs, own.SequenceNumber)}}, nil
}

// discarded is one record a mapping gave up on: what the failure record's range
// holds on the stream.
type discarded struct {
	mapping, label string
	key            string // aggregate ID (events) or sequence number (Kinesis)
	poison         bool
}

// discardedRecords reads, for each failure record, the stream records its batch
// info covers, and tells the scenario's poison records from anything else.
func (h *harness) discardedRecords(ctx context.Context, sc *scenario, mapping string, f esm.Failure) ([]discarded, error) {
	var out []discarded
	if info := f.DDBStreamBatchInfo; info != nil {
		recs, err := h.ddbRange(ctx, info)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			id := ""
			if v, ok := r.Dynamodb.Keys[eventstore.AttrAggregateID].(*sttypes.AttributeValueMemberS); ok {
				id = v.Value
			}
			ver := ""
			if v, ok := r.Dynamodb.Keys[eventstore.AttrVersion].(*sttypes.AttributeValueMemberN); ok {
				ver = v.Value
			}
			out = append(out, discarded{mapping: mapping, label: id + " v" + ver, key: id, poison: slices.Contains(sc.poisonAggs, id)})
		}
		if len(recs) != info.BatchSize {
			return out, fmt.Errorf("%s: the failure record says %d records from %s to %s, the stream holds %d there",
				mapping, info.BatchSize, info.StartSequenceNumber, info.EndSequenceNumber, len(recs))
		}
		return out, nil
	}
	info := f.KinesisBatchInfo
	if info == nil {
		return nil, fmt.Errorf("%s: a failure record without batch info: %+v", mapping, f)
	}
	recs, err := h.kinesisRange(ctx, info)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		seq := aws.ToString(r.SequenceNumber)
		label := aws.ToString(r.PartitionKey) + " " + seq
		if ev, err := pricing.Decode(r.Data); err == nil {
			label = ev.Symbol + " at " + ev.Timestamp.Format(time.RFC3339Nano)
		}
		out = append(out, discarded{mapping: mapping, label: label, key: seq, poison: slices.Contains(sc.poisonSeqs, seq)})
	}
	return out, nil
}

func seqLess(a, b string) bool {
	x, okx := new(big.Int).SetString(a, 10)
	y, oky := new(big.Int).SetString(b, 10)
	if !okx || !oky {
		return a < b
	}
	return x.Cmp(y) < 0
}

func (h *harness) ddbRange(ctx context.Context, info *esm.BatchInfo) ([]sttypes.Record, error) {
	it, err := h.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(info.StreamARN),
		ShardId: aws.String(info.ShardID), ShardIteratorType: sttypes.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber: aws.String(info.StartSequenceNumber)})
	if err != nil {
		return nil, err
	}
	var out []sttypes.Record
	for iter := it.ShardIterator; iter != nil; {
		page, err := h.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if seqLess(info.EndSequenceNumber, aws.ToString(r.Dynamodb.SequenceNumber)) {
				return out, nil
			}
			out = append(out, r)
		}
		if len(page.Records) == 0 {
			return out, nil
		}
		iter = page.NextShardIterator
	}
	return out, nil
}

func (h *harness) kinesisRange(ctx context.Context, info *esm.BatchInfo) ([]kintypes.Record, error) {
	it, err := h.kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(h.marketStream),
		ShardId: aws.String(info.ShardID), ShardIteratorType: kintypes.ShardIteratorTypeAtSequenceNumber,
		StartingSequenceNumber: aws.String(info.StartSequenceNumber)})
	if err != nil {
		return nil, err
	}
	var out []kintypes.Record
	for iter := it.ShardIterator; iter != nil; {
		page, err := h.kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if seqLess(info.EndSequenceNumber, aws.ToString(r.SequenceNumber)) {
				return out, nil
			}
			out = append(out, r)
		}
		if len(page.Records) == 0 {
			return out, nil
		}
		iter = page.NextShardIterator
	}
	return out, nil
}

var (
	_ prices.LatestStore    = (*memoryLatest)(nil)
	_ readmodel.EventSource = scopedSource{}
)
