package topology

import (
	"slices"
	"time"
)

// Access is what a function may do to a resource; each becomes the narrowest IAM
// actions that allow it, scoped to that resource's ARN.
type Access string

const (
	Read      Access = "read"
	Write     Access = "write"
	ReadWrite Access = "read-write"
	// Append reads and adds items, never changes or removes one: what a writer
	// of the append-only events table needs (conditional puts, alone or in a
	// TransactWriteItems, and queries).
	Append Access = "append"
	// Count reads items and updates them in place, never adds or removes one
	// whole: what the quota counters need (a conditional UpdateItem ADD).
	Count Access = "count"
	// AppendErase is Append plus deleting items one by one (DeleteItem, never
	// BatchWriteItem, which can also put): the api's DELETE /me erases the
	// caller's portfolios from the events table, the one exception to its
	// append-only rule (point-in-time recovery keeps 35 days of it).
	AppendErase Access = "append-erase"
)

// TableAccess grants a function access to a table (and its indexes).
type TableAccess struct {
	Table  string
	Access Access
	// ScanIndexes are indexes of the table the function may also read whole
	// (dynamodb:Scan on those indexes only, never on the table): the prices
	// function lists the connected users from the connections table's keys-only
	// byUser index instead of querying every portfolio owner each batch.
	ScanIndexes []string
}

// TriggerKind says what invokes a function.
type TriggerKind string

const (
	HTTPRoute       TriggerKind = "http-route"       // API Gateway HTTP API, payload 2.0
	WebSocketRoute  TriggerKind = "websocket-route"  // API Gateway WebSocket API
	HTTPAuthorizer  TriggerKind = "http-authorizer"  // Lambda REQUEST authorizer, simple responses
	WSAuthorizer    TriggerKind = "ws-authorizer"    // Lambda REQUEST authorizer on $connect
	DynamoDBStream  TriggerKind = "dynamodb-stream"  // event source mapping on a table's stream
	KinesisStream   TriggerKind = "kinesis-stream"   // event source mapping on a Kinesis stream
	Schedule        TriggerKind = "schedule"         // EventBridge Scheduler
	AfterDeployment TriggerKind = "after-deployment" // invoked once per deployment (migrations)
	// SNSTopic subscribes the function to a topic the stack owns (Source names
	// it): SES publishes its bounce and complaint notifications there
	// (SESEventsTopic).
	SNSTopic TriggerKind = "sns-topic"
)

// SESEventsTopic is the SNS topic of the SES configuration set's event
// destination: every bounce and complaint of the mail the stack sends. The
// local stack delivers what its admin endpoint is given (POST /ses/events) to
// the functions subscribed to it, as SNS would.
const SESEventsTopic = "ses-events"

// StreamMapping holds an event source mapping's settings (docs/architecture.md §4): batch item
// failures are always reported, and every mapping bisects failing batches, bounds
// retries and record age, and sends what it gives up on to an SQS queue.
type StreamMapping struct {
	BatchSize             int
	BatchingWindow        time.Duration
	MaxRetries            int
	MaxRecordAge          time.Duration
	ParallelizationFactor int
}

// Trigger is one way a function is invoked.
type Trigger struct {
	Kind TriggerKind
	// HTTPRoute: Method and Path (API Gateway syntax, {id} path parameters).
	Method, Path string
	// WebSocketRoute: RouteKey ($connect, $disconnect, $default or an action).
	RouteKey string
	// DynamoDBStream / KinesisStream: the logical table or stream, and settings;
	// SNSTopic: the topic (SESEventsTopic).
	Source  string
	Mapping StreamMapping
	// Schedule: an EventBridge Scheduler expression and its time zone.
	Expression string
	TimeZone   string
	// Input is the event a schedule delivers (JSON), so one function can serve
	// several schedules.
	Input string
}

// Function is one Lambda.
type Function struct {
	Name    string // the folder under functions/
	Purpose string
	Memory  int // MB
	Timeout time.Duration
	// ReservedConcurrency caps concurrent instances where they share something
	// fragile (Postgres connections through the pooler); 0 = unreserved.
	ReservedConcurrency int
	Tables              []TableAccess
	// Streams are the Kinesis streams the function writes to (consumers get read
	// access through their trigger).
	Streams []string
	// Secrets are logical secret names (see Secrets); each reaches the function
	// as the ARN in its EnvVar, never as a plain value.
	Secrets []string
	// ManageConnections allows PostToConnection/DeleteConnection on the WebSocket API.
	ManageConnections bool
	// SendsEmail allows ses:SendEmail from the deployment's sender identity
	// with its configuration set (and nothing else). Locally its SESv2
	// endpoint is aws-ses-v2-local. The stacks compute the mail settings it
	// declares (MailFromEnvVar, SESConfigurationSetEnvVar, PublicAPIURLEnvVar).
	SendsEmail bool
	// SendsSMS allows sns:Publish to phone numbers (SMS), and no topic. Locally
	// its SNS endpoint is the stack's SMS recorder.
	SendsSMS bool
	// Settings are the function's own environment variables; those its
	// resources carry are derived from them (Environment lists both).
	Settings []Setting
	Triggers []Trigger
	// When, if set, is the deploy-time choice without which the function is
	// not deployed at all (the CDK context, or the local stack's configuration,
	// makes it); "" is always deployed.
	When Feature
}

// Feature is a deploy-time choice some functions exist for.
type Feature string

// StreamingQuotes: the quote source has a live trade stream (Finnhub's
// WebSocket), which a function holds open.
const StreamingQuotes Feature = "streaming-quotes"

// Secret is a Secrets Manager secret the stack expects the operator to fill
// (unless Generated).
type Secret struct {
	Name    string
	EnvVar  string // the variable that carries its ARN (deployed)
	Purpose string
	// PlainEnvVar carries the value itself instead, where no Secrets Manager
	// runs (local runs); a function reads it first.
	PlainEnvVar string
	// LocalValue: the local stack gives PlainEnvVar a stand-in value of its own
	// (otherwise the operator may).
	LocalValue bool
	// Generated secrets are the system's own (a signing key): the deployed
	// stack fills them with a random value, where the others wait for the
	// operator.
	Generated bool
	// Provider, when set, is the market-data source whose API key this is: a
	// function lists the keys of every provider it could use, and a deployment
	// creates and grants only those of the sources it chooses (Sources.For).
	Provider string
}

// Secret names.
const (
	DatabaseSecret = "database-url"
	// APIDatabaseSecret is the DSN of the internet-facing functions (api, ws):
	// their own login role, which may only switch to the caller's role
	// (readmodel.CallerDB); the migrate function creates that role from it.
	APIDatabaseSecret = "api-database-url"
	JWTSecret         = "jwt-secret"
	ServiceRoleKey    = "supabase-service-role-key"
	// NotificationKey signs the unsubscribe links of notification e-mail
	// (HMAC-SHA256), and keys the phone codes' hashes (the api).
	NotificationKey = "notification-signing-key"
	// One API key per market-data provider (Secret.Provider).
	FinnhubAPIKey      = "finnhub-api-key"
	PolygonAPIKey      = "polygon-api-key"
	AlphaVantageAPIKey = "alphavantage-api-key"
)

// ProviderKeys are the API keys of every market-data provider, which a
// function that may use any of them lists (a deployment keeps the chosen ones,
// Sources.For).
var ProviderKeys = []string{FinnhubAPIKey, PolygonAPIKey, AlphaVantageAPIKey}

// Secrets lists every secret.
func Secrets() []Secret {
	return []Secret{
		{Name: DatabaseSecret, EnvVar: "DATABASE_SECRET_ARN", PlainEnvVar: "DATABASE_URL", LocalValue: true,
			Purpose: "the Postgres DSN of Supabase's transaction pooler (port 6543), as the owner of the read models (the internal functions)"},
		{Name: APIDatabaseSecret, EnvVar: "API_DATABASE_SECRET_ARN", PlainEnvVar: "API_DATABASE_URL", LocalValue: true,
			Purpose: "the same pooler's DSN as the api and ws functions' own login role (the migrate function creates it from this DSN)"},
		{Name: JWTSecret, EnvVar: "SUPABASE_JWT_SECRET_ARN", PlainEnvVar: "SUPABASE_JWT_SECRET", LocalValue: true,
			Purpose: "Supabase's legacy HS256 JWT secret (optional: ES256/RS256 keys come from the JWKS)"},
		{Name: ServiceRoleKey, EnvVar: "SUPABASE_SERVICE_ROLE_KEY_ARN", PlainEnvVar: "SUPABASE_SERVICE_ROLE_KEY", LocalValue: true,
			Purpose: "the service-role key, for Supabase Auth's admin API (user look-ups and deletion)"},
		{Name: NotificationKey, EnvVar: "NOTIFICATION_KEY_SECRET_ARN", PlainEnvVar: "NOTIFICATION_KEY", LocalValue: true, Generated: true,
			Purpose: "the HMAC key that signs the unsubscribe links of notification e-mail and keys the phone codes' hashes (random, 32 bytes or more)"},
		{Name: FinnhubAPIKey, EnvVar: "FINNHUB_API_KEY_SECRET_ARN", PlainEnvVar: "FINNHUB_API_KEY", Provider: FinnhubSource,
			Purpose: "Finnhub's API key (finnhub.io dashboard): quotes, the trade stream and symbol search"},
		{Name: PolygonAPIKey, EnvVar: "POLYGON_API_KEY_SECRET_ARN", PlainEnvVar: "POLYGON_API_KEY", Provider: PolygonSource,
			Purpose: "Polygon's (Massive's) API key: daily history, corporate actions, quotes and symbol search"},
		{Name: AlphaVantageAPIKey, EnvVar: "ALPHAVANTAGE_API_KEY_SECRET_ARN", PlainEnvVar: "ALPHAVANTAGE_API_KEY", Provider: AlphaVantageSource,
			Purpose: "Alpha Vantage's API key: quotes, daily history and symbol search (25 requests a day on the free key)"},
	}
}

// SecretByName returns the secret, or false.
func SecretByName(name string) (Secret, bool) {
	for _, s := range Secrets() {
		if s.Name == name {
			return s, true
		}
	}
	return Secret{}, false
}

// FailureDestinationEnvVar carries to every function with a stream trigger its
// mapping's on-failure destination: the SQS queue's URL on AWS (Lambda sends its
// own records of given-up batches there with the function's role, so the function
// may send too), a file:// URL in the local stack. The consumers send there what
// they quarantine themselves, naming the aggregate and version (see
// shared/platform/quarantine), which Lambda's records of a batch do not.
const FailureDestinationEnvVar = "FAILURE_DESTINATION"

// SupabaseURLEnvVar carries the Supabase project URL (https://<ref>.supabase.co)
// to the authorizer; the local stack gives its token issuer's.
const SupabaseURLEnvVar = "SUPABASE_URL"

// snapshotEvery is the event store's snapshot interval, the same for every
// writer and reader of the events table.
var snapshotEvery = Setting{Name: "SNAPSHOT_EVERY", Default: "10", Value: "10", SetBy: BothStacks,
	Meaning: "events between snapshots in the events table (the same for every function that reads or writes it)"}

// The stream mapping every DynamoDB-stream consumer uses: batches of 100, a
// short window so a lone event is not held back, five retries after which the
// record goes to the on-failure queue, never older than an hour. The consumers
// quarantine what can never apply themselves and retry a transient failure with
// backoff within the invocation (shared/platform/retry), so these retries are spent only
// on an outage longer than several invocations (docs/architecture.md,
// "Self-healing consumers").
var eventStreamMapping = StreamMapping{BatchSize: 100, BatchingWindow: time.Second, MaxRetries: 5, MaxRecordAge: time.Hour, ParallelizationFactor: 1}

// Route is one route of the HTTP API: API Gateway's method and path ({id} path
// parameters), and the operation's ID, which is its operationId in the OpenAPI
// document and the key under which shared/adapters/httpapi binds its handler.
type Route struct {
	Method, Path, OperationID string
}

// Pattern is the route as a ServeMux pattern and as API Gateway's route key:
// "GET /portfolios/{id}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// HTTPRoutes are the API's routes, the one list of them: API Gateway (infra)
// and the local gateway route these to the api function, shared/adapters/httpapi
// binds a handler to each operation and refuses to start if one lacks a handler
// or a handler lacks a route, and its tests hold the OpenAPI document to this
// list (paths, methods and operationIds).
var HTTPRoutes = []Route{
	{"POST", "/portfolios", "createPortfolio"},
	{"GET", "/portfolios", "listPortfolios"},
	{"GET", "/portfolios/{id}", "getPortfolio"},
	{"PATCH", "/portfolios/{id}", "updatePortfolio"},
	{"POST", "/portfolios/{id}/archive", "archivePortfolio"},
	{"POST", "/portfolios/{id}/transactions", "recordTransaction"},
	{"GET", "/portfolios/{id}/transactions", "listTransactions"},
	{"POST", "/portfolios/{id}/transactions/{txId}/void", "voidTransaction"},
	{"GET", "/portfolios/{id}/positions", "getPositions"},
	{"PUT", "/portfolios/{id}/targets", "setTargets"},
	{"GET", "/portfolios/{id}/targets", "getTargets"},
	{"PUT", "/portfolios/{id}/settings", "setSettings"},
	{"POST", "/portfolios/{id}/import", "importActivities"},
	{"POST", "/portfolios/{id}/import/preview", "previewImport"},
	{"GET", "/portfolios/{id}/events", "auditTrail"},
	{"POST", "/alerts", "createAlert"},
	{"GET", "/alerts", "listAlerts"},
	{"DELETE", "/alerts/{ruleId}", "deleteAlert"},
	{"PATCH", "/alerts/{ruleId}", "updateAlert"},
	{"POST", "/alerts/{ruleId}/pause", "pauseAlert"},
	{"POST", "/alerts/{ruleId}/resume", "resumeAlert"},
	{"GET", "/alerts/history", "alertHistory"},
	{"POST", "/alerts/history/{firingKey}/ack", "acknowledgeAlert"},
	{"GET", "/portfolios/{id}/performance", "getPerformance"},
	{"GET", "/portfolios/{id}/risk", "getRisk"},
	{"GET", "/portfolios/{id}/rebalancing", "getRebalancing"},
	{"GET", "/portfolios/{id}/history", "getValueHistory"},
	{"GET", "/portfolios/{id}/valuations", "listValuations"},
	{"GET", "/portfolios/{id}/suggestions", "listSuggestions"},
	{"POST", "/portfolios/{id}/suggestions/{suggestionId}/accept", "acceptSuggestion"},
	{"POST", "/portfolios/{id}/suggestions/{suggestionId}/dismiss", "dismissSuggestion"},
	{"GET", "/symbols", "searchSymbols"},
	{"GET", "/portfolios/{id}/symbols", "getPortfolioSymbols"},
	{"GET", "/me", "getMe"},
	{"PATCH", "/me", "updateMe"},
	{"DELETE", "/me", "deleteMe"},
	{"POST", "/me/phone", "startPhoneVerification"},
	{"POST", "/me/phone/verify", "verifyPhone"},
	{"GET", "/notifications", "listNotifications"},
	{"GET", "/unsubscribe", "unsubscribe"},
	{"POST", "/unsubscribe", "unsubscribeOneClick"},
}

// PublicOperations are the operations of HTTPRoutes (by operation ID) that no
// authorizer guards: API Gateway (infra) and the local gateway route them
// without it, and shared/adapters/httpapi requires no caller for them. Each
// authenticates what it is given in another way (the unsubscribe routes: a
// signed token in the query).
var PublicOperations = []string{"unsubscribe", "unsubscribeOneClick"}

// Public reports whether r is one of PublicOperations.
func (r Route) Public() bool { return slices.Contains(PublicOperations, r.OperationID) }

// Functions lists every Lambda with its triggers and permissions.
func Functions() []Function {
	apiTriggers := make([]Trigger, 0, len(HTTPRoutes))
	for _, r := range HTTPRoutes {
		apiTriggers = append(apiTriggers, Trigger{Kind: HTTPRoute, Method: r.Method, Path: r.Path})
	}
	return []Function{
		{
			Name:    "authorizer",
			Purpose: "verifies Supabase JWTs for the HTTP API and the WebSocket $connect route",
			Memory:  256, Timeout: 5 * time.Second,
			Secrets: []string{JWTSecret},
			// Either SUPABASE_URL, or JWT_ISSUER plus JWKS_URL and/or the JWT
			// secret. The defaults are shared/adapters/auth's (its test holds
			// them together).
			Settings: []Setting{
				{Name: SupabaseURLEnvVar, SetBy: BothStacks, Meaning: "the Supabase project URL: gives the token issuer (<url>/auth/v1) and the JWKS URL"},
				{Name: "JWT_ISSUER", Meaning: "overrides (or, without SUPABASE_URL, gives) the token issuer"},
				{Name: "JWKS_URL", Meaning: "overrides (or, without SUPABASE_URL, gives) the JWKS URL"},
				{Name: "JWT_AUDIENCE", Default: "authenticated", Meaning: "the aud a token must carry"},
				{Name: "JWT_ALLOWED_ROLES", Default: "authenticated", Meaning: "comma-separated role claims accepted; * accepts any"},
				{Name: "JWT_CLOCK_SKEW", Default: "30s", Meaning: "leeway for exp, nbf and iat (0 = none)"},
				{Name: "JWKS_CACHE_TTL", Default: "10m", Meaning: "how long a fetched JWKS is used"},
				{Name: "JWKS_MIN_REFRESH_INTERVAL", Default: "30s", Meaning: "the least time between two JWKS fetches"},
				{Name: "LOG_LEVEL", Default: "info", Meaning: "debug, info, warn or error"},
			},
			Triggers: []Trigger{{Kind: HTTPAuthorizer}, {Kind: WSAuthorizer}},
		},
		{
			Name:    "api",
			Purpose: "the HTTPS API: commands to the event table, queries from the read models",
			Memory:  512, Timeout: 10 * time.Second,
			ReservedConcurrency: 50,
			// The rate limits: GET /symbols asks the provider's search, whose
			// quota every function calling that provider shares. DELETE /me
			// erases the caller's items of the events, quotas and connections
			// tables (docs/architecture.md §11, "The user service").
			Tables: []TableAccess{{Table: EventsTable, Access: AppendErase}, {Table: QuotasTable, Access: ReadWrite},
				{Table: RateLimitsTable, Access: ReadWrite}, {Table: ConnectionsTable, Access: ReadWrite}},
			// The search is the quote source's, else the history source's. The
			// service-role key: GET /me makes a missing profile from Supabase
			// Auth, DELETE /me deletes the Auth user. The notification key keys
			// the phone codes' hashes (POST /me/phone).
			Secrets: append([]string{APIDatabaseSecret, ServiceRoleKey, NotificationKey}, ProviderKeys...),
			Settings: append([]Setting{snapshotEvery, PriceSourceSetting, HistorySourceSetting,
				{Name: SupabaseURLEnvVar, SetBy: BothStacks, Meaning: "the Supabase project URL, for Supabase Auth's admin API (with the service-role key)"}},
				ProviderURLSettings...),
			Triggers: apiTriggers,
		},
		{
			Name:    "projector",
			Purpose: "applies the event stream to the Postgres read models",
			Memory:  512, Timeout: 30 * time.Second,
			// One writer per shard is what ordering needs; a small cap keeps the
			// pooler's connections for the API.
			ReservedConcurrency: 10,
			// Read (Query) on the events table: a gap in the stream, or a record
			// that does not decode, is read from the event store.
			Tables:   []TableAccess{{Table: EventsTable, Access: Read}},
			Secrets:  []string{DatabaseSecret},
			Triggers: []Trigger{{Kind: DynamoDBStream, Source: EventsTable, Mapping: eventStreamMapping}},
		},
		{
			Name:    "ws",
			Purpose: "the WebSocket API: records connections and subscriptions, answers subscribe/unsubscribe/ping",
			Memory:  256, Timeout: 10 * time.Second,
			Tables:            []TableAccess{{Table: ConnectionsTable, Access: ReadWrite}},
			Secrets:           []string{APIDatabaseSecret},
			ManageConnections: true,
			Triggers: []Trigger{
				{Kind: WebSocketRoute, RouteKey: "$connect"},
				{Kind: WebSocketRoute, RouteKey: "$disconnect"},
				{Kind: WebSocketRoute, RouteKey: "$default"},
			},
		},
		{
			Name:    "ingest",
			Purpose: "fetches quotes for every symbol on the watch list each minute and publishes them to Kinesis",
			// Under a minute, so that runs never overlap.
			Memory: 256, Timeout: 50 * time.Second,
			ReservedConcurrency: 2,
			// The prices table, read: the poll skips what the stream quoted recently.
			Tables:  []TableAccess{{Table: RateLimitsTable, Access: ReadWrite}, {Table: PricesTable, Access: Read}},
			Streams: []string{MarketDataStream},
			Secrets: append([]string{DatabaseSecret}, ProviderKeys...),
			Settings: append([]Setting{
				PriceSourceSetting,
				{Name: "REPLAY_FILE", Meaning: "the recorded session PRICE_SOURCE=replay plays (the local stack's PT_LOCAL_PRICE_SOURCE=replay sets both)"},
				{Name: "SIM_SEED", Default: "1", Value: "1", SetBy: BothStacks, Meaning: "the simulated feed's seed"},
				{Name: "POLL_SKIP_FRESHER_THAN", Default: "90s",
					Meaning: "a symbol the live stream quoted less than this ago is not polled (0: poll every symbol)"},
			}, ProviderURLSettings...),
			Triggers: []Trigger{{Kind: Schedule, Expression: "rate(1 minute)", TimeZone: "America/New_York", Input: `{"mode":"quotes"}`}},
		},
		{
			Name: "stream",
			Purpose: "holds Finnhub's trade WebSocket (one live invocation, by lease), coalesces the trades per symbol and second " +
				"and publishes them to Kinesis; the ingest's REST poll covers what it does not",
			// The holder streams until 20 s before this timeout; an invocation
			// that finds the lease held returns at once, so two at a time
			// suffice (the holder and the minute's newcomer).
			Memory: 256, Timeout: 15 * time.Minute,
			ReservedConcurrency: 2,
			// Conditional puts, updates and deletes of the lease, never a read.
			Tables:  []TableAccess{{Table: LeasesTable, Access: Write}},
			Streams: []string{MarketDataStream},
			Secrets: []string{DatabaseSecret, FinnhubAPIKey},
			Settings: []Setting{
				{Name: "FINNHUB_STREAM_URL", Meaning: "Finnhub's trade WebSocket URL (a stub's, in tests); Finnhub's own when unset"},
				{Name: "STREAM_INTERVAL", Default: "1s", Meaning: "trades are coalesced to at most one update per symbol per interval, published in one PutRecords"},
				{Name: "STREAM_WATCH_REFRESH", Default: "30s", Meaning: "how often the subscriptions follow the watch list"},
				{Name: "STREAM_MAX_SYMBOLS", Default: "50", Meaning: "symbols on the one connection (Finnhub's free plan is said to allow 50); the REST poll serves the rest"},
			},
			Triggers: []Trigger{{Kind: Schedule, Expression: "rate(1 minute)", TimeZone: "America/New_York", Input: `{}`}},
			When:     StreamingQuotes,
		},
		{
			Name:    "backfill",
			Purpose: "fills the daily closes of every needed symbol back to where it is needed, within the history provider's rate limit",
			// A run stops claiming symbols 20 s before its deadline; the next
			// resumes. One at a time: the provider's limit is the bottleneck, and
			// a claim keeps two runs off one symbol anyway.
			Memory: 512, Timeout: 3 * time.Minute,
			ReservedConcurrency: 1,
			Tables:              []TableAccess{{Table: RateLimitsTable, Access: ReadWrite}},
			Secrets:             []string{DatabaseSecret, PolygonAPIKey, AlphaVantageAPIKey},
			Settings: []Setting{
				HistorySourceSetting,
				{Name: "SIM_SEED", Default: "1", Value: "1", SetBy: BothStacks, Meaning: "the simulated history's seed (the ingest's, so that history and quotes join)"},
				{Name: "POLYGON_BASE_URL", Meaning: "Polygon's base URL (a stub's, in tests); Polygon's own when unset"},
				{Name: "ALPHAVANTAGE_BASE_URL", Meaning: "Alpha Vantage's base URL (a stub's, in tests); Alpha Vantage's own when unset"},
				{Name: "PRICE_CURRENCY", Default: "USD", Value: "USD", SetBy: BothStacks, Meaning: "the currency of the quotes: a portfolio in another needs its pair's history"},
				{Name: "HISTORY_LOOKBACK_DAYS", Default: "365", Meaning: "the days of history a symbol needs without a trade (an alert rule's, a watched one's)"},
				{Name: "HISTORY_MAX_DAYS", Default: "3660", Meaning: "how far back, in days, any history is filled"},
				{Name: "HISTORY_CHUNK_DAYS", Default: "366", Meaning: "the days asked of the provider in one call (the simulated source takes the whole range at once)"},
			},
			Triggers: []Trigger{{Kind: Schedule, Expression: "rate(1 minute)", TimeZone: "America/New_York", Input: `{"mode":"scheduled"}`}},
		},
		{
			Name:    "prices",
			Purpose: "keeps latest prices and daily closes, revalues portfolios, fires price alerts, pushes updates",
			Memory:  512, Timeout: time.Minute,
			ReservedConcurrency: 10,
			Tables: []TableAccess{{Table: PricesTable, Access: ReadWrite},
				{Table: ConnectionsTable, Access: ReadWrite, ScanIndexes: []string{ConnectionsByUserIndex}}},
			Secrets:           []string{DatabaseSecret},
			ManageConnections: true,
			Settings:          []Setting{{Name: "PRICE_CURRENCY", Default: "USD", Value: "USD", SetBy: BothStacks, Meaning: "the currency of the quotes on the stream"}},
			// Prices supersede each other, but the alert firings a tick carries do
			// not: ten minutes of record age, then the on-failure queue. The
			// consumer retries a transient failure within the invocation for up to
			// a minute and sets aside what can never apply, so a mapping retry is
			// spent only on a minute of outage: ten retries outlast the record age,
			// which alone bounds how long an outage may last without losing a tick
			// (with three, a failure of some symbols lost theirs after four
			// minutes). No batching window: a tick should reach the browser within
			// a second, and under load the batch fills from the backlog anyway.
			Triggers: []Trigger{{Kind: KinesisStream, Source: MarketDataStream,
				Mapping: StreamMapping{BatchSize: 500, BatchingWindow: 0, MaxRetries: 10, MaxRecordAge: 10 * time.Minute, ParallelizationFactor: 1}}},
		},
		{
			Name:    "analytics",
			Purpose: "computes performance, risk and rebalancing figures on the event stream and on daily/weekly schedules",
			// A scheduled run pages through every portfolio; it stops 20 s before the
			// deadline and fails, so that the scheduler's retry resumes it.
			Memory: 1024, Timeout: 15 * time.Minute,
			ReservedConcurrency: 5,
			Tables:              []TableAccess{{Table: EventsTable, Access: Read}, {Table: ConnectionsTable, Access: ReadWrite}},
			Secrets:             []string{DatabaseSecret},
			ManageConnections:   true,
			Settings: []Setting{
				snapshotEvery,
				{Name: "BENCHMARK_SYMBOL", Default: "SPY", Value: "SPY", SetBy: BothStacks,
					Meaning: "the benchmark of beta and alpha for portfolios without analytics settings of their own"},
				{Name: "RISK_FREE_RATE", Default: "0", Value: "0.04", SetBy: BothStacks, Meaning: "the annual risk-free rate for Sharpe, Sortino and alpha"},
				{Name: "CONCURRENCY", Default: "8", Value: "8", SetBy: BothStacks, Meaning: "portfolios computed at once"},
			},
			Triggers: []Trigger{
				// The second and last consumer of the events stream (docs/architecture.md §3).
				{Kind: DynamoDBStream, Source: EventsTable, Mapping: eventStreamMapping},
				// After the US close, with that session's closes in.
				{Kind: Schedule, Expression: "cron(30 16 ? * MON-FRI *)", TimeZone: "America/New_York", Input: `{"mode":"daily"}`},
				{Kind: Schedule, Expression: "cron(0 7 ? * SAT *)", TimeZone: "America/New_York", Input: `{"mode":"weekly"}`},
				// The portfolios whose figures predate a completed backfill of
				// one of their symbols (the backfill function's).
				{Kind: Schedule, Expression: "rate(1 minute)", TimeZone: "America/New_York", Input: `{"mode":"refresh"}`},
			},
		},
		{
			Name: "notifier",
			Purpose: "plans the notification outbox (alert firings, weekly summaries, phone codes) into deliveries per channel " +
				"and sends the due ones by e-mail (SES) and SMS (SNS) with retries; records bounces and complaints",
			// A run sends until 15 s before this timeout; the next minute's run
			// resumes. The claims' leases keep concurrent runs apart, so the cap
			// only spares the pooler's connections.
			Memory: 256, Timeout: 50 * time.Second,
			ReservedConcurrency: 2,
			Secrets:             []string{DatabaseSecret, NotificationKey},
			SendsEmail:          true,
			SendsSMS:            true,
			Settings: []Setting{
				{Name: MailFromEnvVar, Required: true, SetBy: BothStacks,
					Meaning: "the From of every e-mail, an address of the SES identity (\"Portfolio Tracker <alerts@example.test>\" locally)"},
				{Name: PublicAPIURLEnvVar, Required: true, SetBy: BothStacks,
					Meaning: "the HTTP API's public base URL: the unsubscribe links are <url>/unsubscribe?token=…"},
				{Name: SESConfigurationSetEnvVar, Required: true, SetBy: BothStacks,
					Meaning: "the SES configuration set mail is sent with: its event destination publishes bounces and complaints to " + SESEventsTopic},
				{Name: "NOTIFY_MAX_ATTEMPTS", Default: "0", Meaning: "attempts of a delivery before it fails (0: no limit, NOTIFY_MAX_AGE bounds the retries)"},
				{Name: "NOTIFY_MAX_AGE", Default: "24h", Meaning: "a delivery due longer than this fails instead of retrying"},
				{Name: "LOG_LEVEL", Default: "info", Meaning: "debug, info, warn or error"},
			},
			Triggers: []Trigger{
				{Kind: Schedule, Expression: "rate(1 minute)", TimeZone: "UTC", Input: `{"mode":"deliver"}`},
				{Kind: SNSTopic, Source: SESEventsTopic},
			},
		},
		{
			Name:    "migrate",
			Purpose: "applies the read models' schema migrations and ensures the api and ws functions' login role, once per deployment",
			Memory:  256, Timeout: 2 * time.Minute,
			ReservedConcurrency: 1,
			Secrets:             []string{DatabaseSecret, APIDatabaseSecret},
			Triggers:            []Trigger{{Kind: AfterDeployment}},
		},
	}
}

// FunctionByName returns the function, or false.
func FunctionByName(name string) (Function, bool) {
	for _, f := range Functions() {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}
