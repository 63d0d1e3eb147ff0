package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// NewKinesisPoller returns the mapping of a Kinesis stream (by name) to a
// function.
func NewKinesisPoller(inv invoke.Invoker, kin *kinesis.Client, streamName string, m Mapping, log *slog.Logger) *Poller {
	return newPoller(inv, &kinesisSource{client: kin, name: streamName, function: m.Function}, m, log)
}

type kinesisSource struct {
	client   *kinesis.Client
	name     string
	function string
	arn      string
	region   string
	identity string
}

func (s *kinesisSource) init(ctx context.Context) error {
	d, err := s.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		return fmt.Errorf("describe stream %s: %w", s.name, err)
	}
	s.arn = aws.ToString(d.StreamDescriptionSummary.StreamARN)
	_, account := arnRegionAccount(s.arn)
	s.region = s.client.Options().Region
	// The execution role Lambda would assume; nothing checks it locally.
	s.identity = fmt.Sprintf("arn:aws:iam::%s:role/%s", account, s.function)
	return nil
}

func (s *kinesisSource) kinesis() bool     { return true }
func (s *kinesisSource) streamARN() string { return s.arn }
func (s *kinesisSource) awsRegion() string { return s.region }

func (s *kinesisSource) shards(ctx context.Context) ([]shard, error) {
	in := &kinesis.ListShardsInput{StreamName: aws.String(s.name)}
	var out []shard
	for {
		l, err := s.client.ListShards(ctx, in)
		if err != nil {
			return out, fmt.Errorf("list shards of %s: %w", s.name, err)
		}
		for _, sh := range l.Shards {
			x := shard{id: aws.ToString(sh.ShardId)}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					x.parents = append(x.parents, *p)
				}
			}
			out = append(out, x)
		}
		if aws.ToString(l.NextToken) == "" {
			return out, nil
		}
		// With a NextToken the stream name must be left out.
		in = &kinesis.ListShardsInput{NextToken: l.NextToken}
	}
}

func (s *kinesisSource) iterator(ctx context.Context, shardID, seq, pos string) (string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.name), ShardId: aws.String(shardID)}
	if seq != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(seq)
	} else {
		in.ShardIteratorType = types.ShardIteratorType(pos)
	}
	out, err := s.client.GetShardIterator(ctx, in)
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		if seq == "" {
			return "", fmt.Errorf("%w: %s: %v", errShardGone, shardID, err)
		}
		// kinesis-mock answers so too when the record is not in the shard: its
		// persistence file is written every few seconds, so after a restart the
		// checkpoint may name a record it lost.
		listed, lerr := s.shardListed(ctx, shardID)
		switch {
		case lerr != nil:
			return "", fmt.Errorf("get shard iterator %s: %w", shardID, errors.Join(err, lerr))
		case listed:
			return "", fmt.Errorf("%w: %s after %s: %v", errCheckpointMissing, shardID, seq, err)
		}
		return "", fmt.Errorf("%w: %s: %v", errShardGone, shardID, err)
	}
	if err != nil {
		return "", fmt.Errorf("get shard iterator %s: %w", shardID, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

// shardListed reports whether the stream still lists the shard.
func (s *kinesisSource) shardListed(ctx context.Context, shardID string) (bool, error) {
	shards, err := s.shards(ctx)
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return false, nil // the stream is gone
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(shards, func(x shard) bool { return x.id == shardID }), nil
}

func (s *kinesisSource) read(ctx context.Context, shardID, iterator string, limit int) ([]record, string, error) {
	out, err := s.client.GetRecords(ctx, &kinesis.GetRecordsInput{
		ShardIterator: aws.String(iterator), Limit: aws.Int32(int32(min(limit, 10000))),
	})
	var (
		expired  *types.ExpiredIteratorException
		notFound *types.ResourceNotFoundException
	)
	switch {
	case errors.As(err, &expired):
		return nil, "", fmt.Errorf("%w: %v", errExpired, err)
	case errors.As(err, &notFound):
		return nil, "", fmt.Errorf("%w: %s: %v", errShardGone, shardID, err)
	case err != nil:
		return nil, "", fmt.Errorf("get records %s: %w", shardID, err)
	}
	recs := make([]record, 0, len(out.Records))
	for _, r := range out.Records {
		rec, err := s.record(shardID, r)
		if err != nil {
			return nil, "", err
		}
		recs = append(recs, rec)
	}
	return recs, aws.ToString(out.NextShardIterator), nil
}

// kinRecord is a Kinesis record as Lambda puts it in a Kinesis event.
type kinRecord struct {
	Kinesis           kinData `json:"kinesis"`
	EventSource       string  `json:"eventSource"`
	EventVersion      string  `json:"eventVersion"`
	EventID           string  `json:"eventID"`
	EventName         string  `json:"eventName"`
	InvokeIdentityARN string  `json:"invokeIdentityArn"`
	AWSRegion         string  `json:"awsRegion"`
	EventSourceARN    string  `json:"eventSourceARN"`
}

type kinData struct {
	KinesisSchemaVersion string `json:"kinesisSchemaVersion"`
	PartitionKey         string `json:"partitionKey"`
	SequenceNumber       string `json:"sequenceNumber"`
	// Data is base64, "" when empty (encoding/json writes a nil slice as null).
	Data []byte `json:"data"`
	// Seconds with milliseconds (1480641523.477), as Lambda writes it.
	ApproximateArrivalTimestamp json.Number `json:"approximateArrivalTimestamp"`
	EncryptionType              string      `json:"encryptionType,omitempty"`
}

func (s *kinesisSource) record(shardID string, r types.Record) (record, error) {
	arrival := time.Now()
	if r.ApproximateArrivalTimestamp != nil {
		arrival = *r.ApproximateArrivalTimestamp
	}
	seq := aws.ToString(r.SequenceNumber)
	enc := ""
	if r.EncryptionType != "" && r.EncryptionType != types.EncryptionTypeNone {
		enc = string(r.EncryptionType)
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	ms := arrival.UnixMilli()
	ev := kinRecord{
		Kinesis: kinData{
			KinesisSchemaVersion:        "1.0",
			PartitionKey:                aws.ToString(r.PartitionKey),
			SequenceNumber:              seq,
			Data:                        r.Data,
			ApproximateArrivalTimestamp: json.Number(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)),
			EncryptionType:              enc,
		},
		EventSource:       "aws:kinesis",
		EventVersion:      "1.0",
		EventID:           shardID + ":" + seq,
		EventName:         "aws:kinesis:record",
		InvokeIdentityARN: s.identity,
		AWSRegion:         s.region,
		EventSourceARN:    s.arn,
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return record{}, fmt.Errorf("encode kinesis record %s: %w", ev.EventID, err)
	}
	return record{seq: seq, arrival: arrival, event: b}, nil
}
