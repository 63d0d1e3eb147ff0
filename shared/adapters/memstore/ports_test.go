package memstore_test

import (
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// The memory alert store serves the prices consumer's ports as the PostgreSQL
// one does.
var (
	_ pricing.AlertStore          = (*memstore.Alerts)(nil)
	_ pricing.PortfolioAlertStore = (*memstore.Alerts)(nil)
	_ pricing.StateMarker         = (*memstore.Alerts)(nil)
	_ pricing.FiringRecorder      = (*memstore.Alerts)(nil)
)
