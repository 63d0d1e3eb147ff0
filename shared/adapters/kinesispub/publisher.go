// Package kinesispub publishes records to a Kinesis stream with PutRecords.
//
// Records go out in order, in batches of at most 500 records and 5 MiB (the
// PutRecords limits; a record's size is its data plus its partition key). A
// PutRecords call can succeed while some of its records fail (FailedRecordCount >
// 0, each failed entry carrying an ErrorCode such as
// ProvisionedThroughputExceededException): only those records are sent again,
// after a full-jitter exponential backoff, for a bounded number of attempts. A
// whole call that fails (throttled, network) is retried the same way.
//
// Ordering: a record retried after a partial failure lands after records of the
// same batch that succeeded, so two records of one partition key in one batch may
// swap. The consumers of market-data-updates do not depend on arrival order within
// a symbol (they keep the newest timestamp), so no SequenceNumberForOrdering
// chain is used; that would serialise every call.
package kinesispub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// PutRecords limits.
const (
	MaxBatchRecords = 500
	MaxBatchBytes   = 5 << 20
	MaxRecordBytes  = 1 << 20
)

// API is the part of the Kinesis client the publisher uses.
type API interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Record is one record to publish.
type Record struct {
	PartitionKey string
	Data         []byte
}

// Options tune a Publisher. Zero values take the defaults.
type Options struct {
	MaxAttempts int           // PutRecords attempts per record, first included (default 5)
	BaseDelay   time.Duration // default 50 ms
	MaxDelay    time.Duration // default 2 s
	// Sleep and Rand are the clock and the jitter source; tests replace them.
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func(n int64) int64
}

// Publisher puts records on one stream.
type Publisher struct {
	api    API
	stream string // name or ARN
	opts   Options
}

// New returns a Publisher for stream (a name, or an ARN starting "arn:").
func New(api API, stream string, opts Options) *Publisher {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 50 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 2 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.Int64N
	}
	return &Publisher{api: api, stream: stream, opts: opts}
}

// FailedRecord is a record given up on, with the last error Kinesis reported.
type FailedRecord struct {
	Index        int // in the slice passed to Publish
	ErrorCode    string
	ErrorMessage string
}

// Result summarises a Publish call.
type Result struct {
	Published int
	Calls     int // PutRecords calls made
	Retried   int // record sends beyond the first
	Failed    []FailedRecord
}

// ErrNotAllPublished is returned (wrapped) when some records were given up on;
// Result.Failed lists them.
var ErrNotAllPublished = errors.New("kinesis: not every record was published")

// Publish sends records. It returns an error wrapping ErrNotAllPublished when any
// record could not be put within the attempts (Result.Failed says which), or
// ctx.Err() when ctx ends; records that are too large or have no partition key are
// failed without being sent.
func (p *Publisher) Publish(ctx context.Context, records []Record) (Result, error) {
	var res Result
	var valid []int
	for i, r := range records {
		switch {
		case r.PartitionKey == "" || len(r.PartitionKey) > 256:
			res.Failed = append(res.Failed, FailedRecord{Index: i, ErrorCode: "InvalidPartitionKey", ErrorMessage: "partition key must be 1 to 256 characters"})
		case len(r.Data)+len(r.PartitionKey) > MaxRecordBytes:
			res.Failed = append(res.Failed, FailedRecord{Index: i, ErrorCode: "RecordTooLarge", ErrorMessage: fmt.Sprintf("%d bytes", len(r.Data)+len(r.PartitionKey))})
		default:
			valid = append(valid, i)
		}
	}
	for start := 0; start < len(valid); {
		end, size := start, 0
		for end < len(valid) && end-start < MaxBatchRecords {
			n := len(records[valid[end]].Data) + len(records[valid[end]].PartitionKey)
			if size+n > MaxBatchBytes {
				break
			}
			size += n
			end++
		}
		if err := p.putBatch(ctx, records, valid[start:end], &res); err != nil {
			return res, err
		}
		start = end
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d failed (first: %s %s)", ErrNotAllPublished, len(res.Failed), len(records), res.Failed[0].ErrorCode, res.Failed[0].ErrorMessage)
	}
	return res, nil
}

// putBatch puts the records at idx (one PutRecords' worth), retrying the failed ones.
func (p *Publisher) putBatch(ctx context.Context, records []Record, idx []int, res *Result) error {
	pending := idx
	lastCode := map[int][2]string{}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			res.Retried += len(pending)
			if err := p.opts.Sleep(ctx, p.backoff(attempt-1)); err != nil {
				return err
			}
		}
		if attempt == p.opts.MaxAttempts {
			for _, i := range pending {
				c := lastCode[i]
				res.Failed = append(res.Failed, FailedRecord{Index: i, ErrorCode: c[0], ErrorMessage: c[1]})
			}
			return nil
		}
		in := &kinesis.PutRecordsInput{Records: make([]types.PutRecordsRequestEntry, len(pending))}
		if len(p.stream) > 4 && p.stream[:4] == "arn:" {
			in.StreamARN = aws.String(p.stream)
		} else {
			in.StreamName = aws.String(p.stream)
		}
		for k, i := range pending {
			in.Records[k] = types.PutRecordsRequestEntry{Data: records[i].Data, PartitionKey: aws.String(records[i].PartitionKey)}
		}
		res.Calls++
		out, err := p.api.PutRecords(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The whole call failed: every pending record is retried.
			for _, i := range pending {
				lastCode[i] = [2]string{"CallFailed", err.Error()}
			}
			continue
		}
		if len(out.Records) != len(pending) {
			return fmt.Errorf("kinesis: PutRecords answered %d entries for %d records", len(out.Records), len(pending))
		}
		var next []int
		for k, r := range out.Records {
			if r.ErrorCode != nil && *r.ErrorCode != "" {
				next = append(next, pending[k])
				lastCode[pending[k]] = [2]string{*r.ErrorCode, aws.ToString(r.ErrorMessage)}
				continue
			}
			res.Published++
		}
		pending = next
	}
	return nil
}

// backoff is full jitter: uniform in [0, min(MaxDelay, BaseDelay·2ⁿ)).
func (p *Publisher) backoff(n int) time.Duration {
	ceil := p.opts.MaxDelay
	if n < 30 {
		if d := p.opts.BaseDelay << uint(n); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(p.opts.Rand(int64(ceil)))
}
