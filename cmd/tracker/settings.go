package main

import "github.com/portfoliotracker/tracker/shared/platform/config"

// env reads the CLI's environment variables (shared/platform/config): each
// stands in for a flag left empty.
var env = config.New("tracker", []config.Setting{
	{Name: "DATABASE_URL", Meaning: "the read models' Postgres DSN, when --database-url is not given"},
	{Name: "EVENTS_TABLE", Meaning: "the events table, when --events-table is not given"},
	{Name: "QUOTAS_TABLE", Meaning: "the quotas table, when --quotas-table is not given"},
	{Name: "GOMEMLIMIT", Meaning: "the Go runtime's soft memory limit (the runtime reads it): when set, calc keeps it instead of its own"},
})
