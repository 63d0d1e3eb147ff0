package memstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
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

// The memory metrics and alert stores serve the analytics job's ports as the
// PostgreSQL ones do.
var (
	_ analyticsjob.Store      = (*memstore.Metrics)(nil)
	_ analyticsjob.AlertStore = (*memstore.Alerts)(nil)
)

// A result whose report JSON cannot encode is refused for its data (the job
// then stores the batch's results one at a time and quarantines that one); any
// other error is not.
func TestMetricsIsDataError(t *testing.T) {
	m := memstore.NewMetrics(memstore.NewDirectory(), memstore.NewPrices(), memstore.NewValuations())
	_, err := json.Marshal(math.NaN())
	if wrapped := fmt.Errorf("memstore: metrics of p: %w", err); err == nil || !m.IsDataError(wrapped) {
		t.Errorf("%v is not a data error", wrapped)
	}
	if m.IsDataError(errors.New("connection refused")) {
		t.Error("any error is a data error")
	}
}
