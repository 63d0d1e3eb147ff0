// Package topology declares the system's resources as plain Go data: tables,
// their keys, streams and TTLs (and, as the system grows, Kinesis streams,
// functions with their triggers and environment, routes and schedules).
//
// The CDK stack (infra/) and the local stack (localstack/) both build from this
// one declaration, and infra's parity test checks the synthesized template against
// it, so what runs on a laptop and what runs on AWS cannot drift apart. It imports
// nothing from AWS: it is data, and each side translates it.
package topology

import "time"

// AttributeType is a DynamoDB key attribute type.
type AttributeType string

const (
	String AttributeType = "S"
	Number AttributeType = "N"
)

// StreamView is a DynamoDB stream view type.
type StreamView string

const (
	NoStream StreamView = ""
	NewImage StreamView = "NEW_IMAGE"
)

// Key is one key attribute.
type Key struct {
	Name string
	Type AttributeType
}

// Index is a global secondary index (projection ALL unless KeysOnly).
type Index struct {
	Name         string
	PartitionKey Key
	SortKey      *Key
	KeysOnly     bool
}

// Table is a DynamoDB table. All tables are on-demand and encrypted.
type Table struct {
	// Name is the logical name; the physical one is Prefix + Name (see PhysicalName).
	Name         string
	PartitionKey Key
	SortKey      *Key
	Stream       StreamView
	TTLAttribute string
	Indexes      []Index
	// PointInTimeRecovery is on for tables whose loss loses user data.
	PointInTimeRecovery bool
	// EnvVar is the environment variable through which functions learn the
	// physical name.
	EnvVar string
	// Purpose is one line for humans (docs, the stack's descriptions).
	Purpose string
}

// Logical table names.
const (
	EventsTable      = "events"
	PricesTable      = "prices"
	ConnectionsTable = "connections"
	// ConnectionsByUserIndex is the connections table's keys-only GSI by user.
	ConnectionsByUserIndex = "byUser"
	RateLimitsTable        = "rate-limits"
	QuotasTable            = "quotas"
	// LeasesTable holds named leases: the one live quote stream's.
	LeasesTable = "leases"
)

// Event item attribute names (docs/architecture.md §3). The adapters and the stream consumers
// share them from here.
const (
	AttrAggregateID = "aggregateId"
	AttrVersion     = "version"
	AttrTTL         = "expiresAt"
)

// Tables is every DynamoDB table of the system.
func Tables() []Table {
	return []Table{
		{
			Name:                EventsTable,
			PartitionKey:        Key{AttrAggregateID, String},
			SortKey:             &Key{AttrVersion, Number},
			Stream:              NewImage,
			PointInTimeRecovery: true,
			EnvVar:              "EVENTS_TABLE",
			Purpose:             "append-only portfolio events (the source of truth); every Nth item also carries a snapshot",
		},
		{
			Name:         PricesTable,
			PartitionKey: Key{"symbol", String},
			EnvVar:       "PRICES_TABLE",
			Purpose:      "latest quote per symbol",
		},
		{
			Name:         ConnectionsTable,
			PartitionKey: Key{"connectionId", String},
			TTLAttribute: AttrTTL,
			Indexes:      []Index{{Name: ConnectionsByUserIndex, PartitionKey: Key{"userId", String}, KeysOnly: true}},
			EnvVar:       "CONNECTIONS_TABLE",
			Purpose:      "live WebSocket connections and their subscriptions (TTL 2 h, the API Gateway maximum)",
		},
		{
			Name:         RateLimitsTable,
			PartitionKey: Key{"key", String},
			TTLAttribute: AttrTTL,
			EnvVar:       "RATE_LIMITS_TABLE",
			Purpose:      "market-data provider calls per provider and minute, shared across invocations",
		},
		{
			Name:         QuotasTable,
			PartitionKey: Key{"key", String},
			EnvVar:       "QUOTAS_TABLE",
			Purpose:      "per-user sets the portfolio and symbol quotas count, which must hold under a burst of commands",
		},
		{
			Name:         LeasesTable,
			PartitionKey: Key{"key", String},
			TTLAttribute: AttrTTL,
			EnvVar:       "LEASES_TABLE",
			Purpose:      "named leases with a holder and an expiry (conditional writes only): at most one live quote stream",
		},
	}
}

// TableByName returns the logical table, or false.
func TableByName(name string) (Table, bool) {
	for _, t := range Tables() {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// PhysicalName is the deployed name of a logical resource for a stage prefix such
// as "pt-dev-".
func PhysicalName(prefix, logical string) string { return prefix + logical }

// DataStream is a Kinesis data stream (on-demand, encrypted). Producers learn
// its name through EnvVar; records are partitioned by symbol, so order holds per
// symbol.
type DataStream struct {
	Name      string
	EnvVar    string
	Retention time.Duration // 24 h when zero
	Purpose   string
}

// Kinesis stream names.
const MarketDataStream = "market-data-updates"

// KinesisStreams lists every Kinesis stream.
func KinesisStreams() []DataStream {
	return []DataStream{{
		Name:    MarketDataStream,
		EnvVar:  "MARKET_DATA_STREAM",
		Purpose: "MarketDataUpdated quotes from ingest to prices, partition key = symbol",
	}}
}
