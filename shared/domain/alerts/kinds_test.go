package alerts

import (
	"slices"
	"testing"
)

func TestKindsOfMetrics(t *testing.T) {
	for _, tc := range []struct {
		metrics []Metric
		want    []Kind
	}{
		{[]Metric{MetricValue}, []Kind{KindValueDrop}},
		{[]Metric{MetricPrice}, []Kind{KindPriceAbove, KindPriceBelow, KindPercentMove}},
		{[]Metric{MetricVaR, MetricWeight}, []Kind{KindWeightDrift, KindVaRBreach}},
		{nil, nil},
	} {
		if got := KindsOf(tc.metrics...); !slices.Equal(got, tc.want) {
			t.Errorf("KindsOf(%v) = %v, want %v", tc.metrics, got, tc.want)
		}
	}
	// Every kind listens to exactly one metric, and KindsOf inverts Metric.
	for _, k := range Kinds {
		if !slices.Contains(KindsOf(k.Metric()), k) {
			t.Errorf("%s not among KindsOf(%q)", k, k.Metric())
		}
	}
}
