// Package metrics is the catalogue of every metric the project emits: its name,
// unit, the dimensions it may carry besides Function and Stage, which
// functions write it, and what it tells. It is the one list: shared/platform/emf writes the lines,
// a test fails when code emits a name that is not here (or with another unit or
// dimension), docs/observability.md's table and the CDK dashboard and alarms are
// held to it by tests, and the local stack's GET /metrics flags what it does
// not know.
//
// Dimensions are bounded (a route pattern, a status class, a channel, a kind):
// never a user, portfolio or connection ID, which would make one CloudWatch
// metric per user.
package metrics

import "slices"

// Units used in the catalogue (CloudWatch's names).
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
)

// Dimension names. Function and Stage are on every line.
const (
	Function    = "Function"
	Stage       = "Stage"       // the stage (dev, prod, local): emf.SetStage, from the STAGE setting
	Route       = "Route"       // the API route's pattern: "GET /portfolios/{id}"; "unmatched" for none
	StatusClass = "StatusClass" // "2xx", "4xx", "5xx"
	Kind        = "Kind"        // a bounded kind named in the metric's meaning
	Channel     = "Channel"     // a notification channel: email, sms
	Mode        = "Mode"        // a scheduled run's mode: daily, ...
)

// Def is one metric.
type Def struct {
	Name string
	Unit string
	// Dimensions it may carry besides Function and Stage.
	Dimensions []string
	// Functions that write it.
	Functions []string
	Meaning   string
}

// Catalogue is every metric, by name; a name means one thing whichever
// function writes it.
var Catalogue = []Def{
	// API (functions/api, shared/adapters/httpapi): one line per request.
	{"Requests", Count, []string{Route, StatusClass}, fns("api"), "requests answered, per route pattern and status class (2xx, 4xx, 5xx)"},
	{"RequestLatency", Milliseconds, []string{Route}, fns("api"), "time to answer a request inside the function, per route (the SLO's p99)"},
	{"Commands", Count, []string{Kind}, fns("api"), "commands accepted (2xx), Kind = the operation (recordTransaction, importActivities, ...)"},
	{"DatabasePoolAcquired", Count, nil, fns("api", "projector", "prices"), "PostgreSQL pool connections in use after the request or batch (gauge)"},
	{"DatabasePoolIdle", Count, nil, fns("api", "projector", "prices"), "PostgreSQL pool connections idle after the request or batch (gauge)"},
	{"DatabasePoolWait", Milliseconds, nil, fns("api", "projector", "prices"), "time spent waiting for a pool connection (none idle) since the previous line"},

	// Authorizer (functions/authorizer).
	{"AuthorizerDecisions", Count, []string{Kind}, fns("authorizer"), "authorizer answers, Kind = allow, deny or error"},

	// WebSocket function (functions/ws).
	{"WebSocketMessages", Count, []string{Kind}, fns("ws"), "WebSocket route invocations, Kind = the route key ($connect, $disconnect, subscribe, ...)"},

	// Stream consumers (projector, analytics, prices): one line per batch.
	{"StreamRecords", Count, nil, fns("projector", "analytics", "prices"), "records in the batch"},
	{"StreamRecordsIgnored", Count, nil, fns("projector"), "records that carry no new event (MODIFY, REMOVE)"},
	{"StreamRecordsPoison", Count, nil, fns("projector", "prices"), "records that do not decode"},
	{"StreamRecordsUnknownType", Count, nil, fns("projector"), "records of an event type this build does not know"},
	{"StreamRecordsFailed", Count, nil, fns("projector", "prices"), "records reported as batch item failures (redelivered)"},
	{"StreamRecordsQuarantined", Count, nil, fns("projector", "prices"), "records sent to the on-failure destination"},
	{"TransientRetries", Count, nil, fns("projector", "analytics", "prices"), "retries of a transient failure within the invocation"},
	{"ProjectionLag", Milliseconds, nil, fns("projector"), "from an event's recording to its projection (values: a sample of up to 100 records per batch; the SLO)"},

	// Projector (shared/adapters/readmodel): one line per batch.
	{"EventsReceived", Count, nil, fns("projector"), "events given to the read-model projector"},
	{"EventsApplied", Count, nil, fns("projector"), "events projected"},
	{"EventsDuplicate", Count, nil, fns("projector"), "events already projected (redelivery)"},
	{"EventsUnknownType", Count, nil, fns("projector"), "events skipped: unknown type"},
	{"EventsFailed", Count, nil, fns("projector"), "events that failed to project"},
	{"EventsQuarantined", Count, nil, fns("projector"), "events set aside on the failure destination"},
	{"EventsFromStore", Count, nil, fns("projector"), "events read back from the event store to fill gaps"},
	{"GapsFilled", Count, nil, fns("projector"), "version gaps filled from the event store"},
	{"AggregateGaps", Count, nil, fns("projector"), "version gaps found"},
	{"PortfoliosRecomputed", Count, nil, fns("projector", "analytics"), "portfolios whose read models or figures were recomputed"},
	{"LotEngineErrors", Count, nil, fns("projector"), "portfolios whose lots could not be computed"},
	{"TransactionsLeftOut", Count, nil, fns("projector", "analytics"), "transactions left out of a computation (unpriced, invalid)"},
	{"EventsOfErasedUsers", Count, nil, fns("projector"), "events of erased users, skipped"},
	{"DatabaseTransactions", Count, nil, fns("projector"), "PostgreSQL transactions committed"},
	{"BatchDuration", Milliseconds, nil, fns("projector"), "time to project a batch"},

	// Prices consumer (shared/app/prices): one line per batch.
	{"SymbolsRefused", Count, nil, fns("prices"), "symbols whose ticks a store refused (set aside)"},
	{"BatchesFailed", Count, nil, fns("prices"), "batches that failed whole (the mapping retries them)"},
	{"PushFailures", Count, nil, fns("prices"), "push calls that reported a failure"},
	{"AlertTicksEvaluated", Count, nil, fns("prices"), "ticks evaluated against alert rules (price and value rules)"},
	{"AlertsFired", Count, []string{Mode}, fns("prices", "analytics"), "alert firings recorded (prices: price and value rules; analytics: by Mode)"},
	{"RuleCacheHits", Count, nil, fns("prices"), "alert keys whose rules the consumer's cache held"},
	{"RuleCacheMisses", Count, nil, fns("prices"), "alert keys whose rules were loaded from PostgreSQL"},
	{"TickToPush", Milliseconds, nil, fns("prices"), "from a tick's arrival on the Kinesis stream to the end of its batch's pushes (values: a sample of up to 100 per batch; the SLO)"},

	// Pushes (shared/adapters/push): one line per fan-out.
	{"PushesSent", Count, nil, fns("prices"), "messages posted to WebSocket connections"},
	{"PushesGone", Count, nil, fns("prices"), "connections that answered 410 Gone (deleted)"},
	{"PushesThrottled", Count, nil, fns("prices"), "posts answered 429 and retried"},
	{"PushesFailed", Count, nil, fns("prices"), "posts given up on"},

	// Ingest, stream and backfill (market data): one line per invocation.
	{"TicksIngested", Count, nil, fns("ingest", "stream"), "price updates put on the Kinesis stream"},
	{"ProviderCalls", Count, nil, fns("ingest", "stream", "backfill"), "calls to the market-data provider (quotes asked, trades heard, history ranges fetched)"},
	{"ProviderErrors", Count, nil, fns("ingest", "stream", "backfill"), "provider calls or publishes that failed"},
	{"ProviderLimitHits", Count, nil, fns("ingest", "backfill"), "invocations cut short by the provider's rate limit"},
	{"ClosesWritten", Count, nil, fns("backfill"), "daily closes written"},

	// Analytics (functions/analytics).
	{"PortfoliosFailed", Count, []string{Mode}, fns("analytics"), "portfolios whose figures failed"},
	{"PortfoliosQuarantined", Count, nil, fns("analytics"), "portfolios set aside on the failure destination"},
	{"PortfoliosComputed", Count, []string{Mode}, fns("analytics"), "portfolios computed by a scheduled run"},
	{"RunDuration", Milliseconds, []string{Mode}, fns("analytics"), "a scheduled run's duration (its sample count is the number of runs)"},
	{"RunIncomplete", Count, []string{Mode}, fns("analytics"), "scheduled runs that stopped before the end"},

	// Notifier (functions/notifier): one line per run, and one per channel used.
	{"NotificationsPlanned", Count, nil, fns("notifier"), "outbox entries planned"},
	{"NotificationsSent", Count, []string{Channel}, fns("notifier"), "deliveries sent (a digest counts each), in all and per channel"},
	{"NotificationMessages", Count, nil, fns("notifier"), "messages sent (a digest is one)"},
	{"NotificationsRetried", Count, []string{Channel}, fns("notifier"), "deliveries due again later"},
	{"NotificationsFailed", Count, []string{Channel}, fns("notifier"), "deliveries given up"},
	{"NotificationsSuppressed", Count, []string{Channel}, fns("notifier"), "deliveries stopped for their address (bounce, complaint, unsubscribe)"},
}

func fns(names ...string) []string { return names }

// Lookup finds a metric by name.
func Lookup(name string) (Def, bool) {
	i := slices.IndexFunc(Catalogue, func(d Def) bool { return d.Name == name })
	if i < 0 {
		return Def{}, false
	}
	return Catalogue[i], true
}

// Allows reports whether d may carry the dimension.
func (d Def) Allows(dimension string) bool {
	return dimension == Function || dimension == Stage || slices.Contains(d.Dimensions, dimension)
}
