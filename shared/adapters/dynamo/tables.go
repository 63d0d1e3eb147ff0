// Package dynamo turns the topology's table declarations into DynamoDB tables.
// The local stack and the integration tests create tables through it; the CDK
// stack reads the same declarations, so all three agree on keys, streams and TTL.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// CreateTable creates the table under the physical name (on-demand, with its
// stream, indexes and TTL) and waits until it is active. An existing table of
// that name is left as it is.
func CreateTable(ctx context.Context, client *dynamodb.Client, t topology.Table, name string) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(t.PartitionKey.Name), KeyType: types.KeyTypeHash}},
	}
	attrs := map[string]topology.AttributeType{t.PartitionKey.Name: t.PartitionKey.Type}
	if t.SortKey != nil {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(t.SortKey.Name), KeyType: types.KeyTypeRange})
		attrs[t.SortKey.Name] = t.SortKey.Type
	}
	for _, ix := range t.Indexes {
		gsi := types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(ix.PartitionKey.Name), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
		attrs[ix.PartitionKey.Name] = ix.PartitionKey.Type
		if ix.SortKey != nil {
			gsi.KeySchema = append(gsi.KeySchema, types.KeySchemaElement{AttributeName: aws.String(ix.SortKey.Name), KeyType: types.KeyTypeRange})
			attrs[ix.SortKey.Name] = ix.SortKey.Type
		}
		if ix.KeysOnly {
			gsi.Projection.ProjectionType = types.ProjectionTypeKeysOnly
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for n, typ := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeType(typ)})
	}
	if t.Stream != topology.NoStream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.Stream)}
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	if err := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if t.TTLAttribute != "" {
		_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)},
		})
		if err != nil && !isTTLAlreadyEnabled(err) {
			return fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	return nil
}

func isTTLAlreadyEnabled(err error) bool {
	var ve interface{ ErrorMessage() string }
	return errors.As(err, &ve) && strings.Contains(ve.ErrorMessage(), "already enabled")
}
