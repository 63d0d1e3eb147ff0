package kinesispub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// CreateStream creates an ON_DEMAND stream (as the stack declares
// market-data-updates) and waits until it is active. An existing stream is left as
// it is. The local stack and the tests use it.
func CreateStream(ctx context.Context, client *kinesis.Client, name string) error {
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName:        aws.String(name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for stream %s: %w", name, err)
	}
	return nil
}

// ReadAll returns every record currently in the stream, shard by shard from
// TRIM_HORIZON, in each shard's order (tests, the local stack's tooling).
func ReadAll(ctx context.Context, client *kinesis.Client, name string) ([]types.Record, error) {
	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	var out []types.Record
	for _, sh := range shards.Shards {
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, err
		}
		iter := it.ShardIterator
		for range 1000 {
			if iter == nil {
				break
			}
			got, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				return nil, err
			}
			out = append(out, got.Records...)
			if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
				break // caught up
			}
			iter = got.NextShardIterator
		}
	}
	return out, nil
}
