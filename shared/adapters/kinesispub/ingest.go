package kinesispub

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/app/ingest"
)

// IngestPublisher is a Publisher as the ingest's port (ingest.Publisher).
type IngestPublisher struct{ Publisher *Publisher }

// Publish implements ingest.Publisher: Publisher.Publish of the same records.
func (p IngestPublisher) Publish(ctx context.Context, records []ingest.Record) (ingest.PublishResult, error) {
	recs := make([]Record, len(records))
	for i, r := range records {
		recs[i] = Record(r)
	}
	res, err := p.Publisher.Publish(ctx, recs)
	return ingest.PublishResult{Published: res.Published, Calls: res.Calls, Retried: res.Retried}, err
}
