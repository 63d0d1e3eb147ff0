package readmodel

import "github.com/portfoliotracker/tracker/shared/app/analyticsjob"

// The read models implement the analytics job's ports (shared/app/analyticsjob):
// Metrics its figures, run status, closes and valuations, AlertRules its risk rules.
var (
	_ analyticsjob.Store      = (*Metrics)(nil)
	_ analyticsjob.AlertStore = (*AlertRules)(nil)
)

// IsDataError is the package's IsDataError, which the analytics job asks its store
// to tell a write refused for its data (stored one portfolio at a time, then
// quarantined) from an outage (retried).
func (m *Metrics) IsDataError(err error) bool { return IsDataError(err) }
