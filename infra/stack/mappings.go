package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// FailureRetention is how long an on-failure queue keeps what a mapping gave up
// on: SQS's maximum, time to notice the alarm, fix and redrive.
const FailureRetention = 14 * 24 * time.Hour

// StartingPosition is where a new mapping starts reading its source.
//
// DynamoDB streams start at TRIM_HORIZON: every event matters to the read models,
// including those written between the table's and the mapping's creation.
// Kinesis streams (market prices) start at LATEST: a quote is superseded by the
// next one for its symbol, so replaying up to 24 h of old prices into the price
// handler would only redo valuations and could fire alerts on stale prices.
func StartingPosition(kind topology.TriggerKind) awslambda.StartingPosition {
	if kind == topology.KinesisStream {
		return awslambda.StartingPosition_LATEST
	}
	return awslambda.StartingPosition_TRIM_HORIZON
}

func duration(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// IteratorAgeThreshold is the iterator age at which a mapping's alarm fires: half
// the record age at which records are given up on, and at most five minutes.
func IteratorAgeThreshold(m topology.StreamMapping) time.Duration {
	return min(m.MaxRecordAge/2, 5*time.Minute)
}

// streamMappings creates one event source mapping per dynamodb-stream and
// kinesis-stream trigger, with docs/architecture.md §4's failure semantics: batch item failures
// reported, failing batches bisected, retries and record age bounded, and what is
// given up on sent to an SQS queue that alarms when it holds anything.
func (b *builder) streamMappings() {
	for _, ft := range b.topo.triggers(topology.DynamoDBStream, topology.KinesisStream) {
		f, tr, m := ft.Function, ft.Trigger, ft.Trigger.Mapping
		fn := b.Functions[f.Name]
		cid := "Mapping" + id(f.Name, tr.Source)
		var arn *string
		if tr.Kind == topology.DynamoDBStream {
			arn = b.Tables[tr.Source].TableStreamArn()
		} else {
			arn = b.Streams[tr.Source].StreamArn()
		}
		queue := awssqs.NewQueue(b.st, jsii.String(cid+"Failures"), &awssqs.QueueProps{
			QueueName:       b.name(f.Name, tr.Source, "failures"),
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: duration(FailureRetention),
			RemovalPolicy:   b.cfg.removal(),
		})
		suppress(queue, "AwsSolutions-SQS3", fmt.Sprintf("This queue is itself the on-failure destination of %s's mapping on %s: "+
			"it holds the records given up on (metadata to fetch them again), alarms when it holds any, and a queue behind it would add nothing.", f.Name, tr.Source))
		props := &awslambda.EventSourceMappingProps{
			Target:                  fn,
			EventSourceArn:          arn,
			StartingPosition:        StartingPosition(tr.Kind),
			BatchSize:               jsii.Number(float64(m.BatchSize)),
			MaxBatchingWindow:       duration(m.BatchingWindow),
			RetryAttempts:           jsii.Number(float64(m.MaxRetries)),
			MaxRecordAge:            duration(m.MaxRecordAge),
			BisectBatchOnError:      jsii.Bool(true),
			ReportBatchItemFailures: jsii.Bool(true),
			OnFailure:               &sqsOnFailure{queue: queue},
		}
		if m.ParallelizationFactor > 0 {
			props.ParallelizationFactor = jsii.Number(float64(m.ParallelizationFactor))
		}
		awslambda.NewEventSourceMapping(b.st, jsii.String(cid), props)
		// The consumer sends what it quarantines itself to the same queue (Bind lets
		// its role send there), naming the aggregate and version.
		fn.AddEnvironment(jsii.String(topology.FailureDestinationEnvVar), queue.QueueUrl(), nil)

		b.failureQueues = append(b.failureQueues, failureQueue{f.Name + " ← " + tr.Source, queue})
		b.alarm(queue, "NotEmpty", b.name(f.Name, tr.Source, "failures-not-empty"),
			fmt.Sprintf("%s gave up on records of %s: they are in the queue %s", f.Name, tr.Source, *b.name(f.Name, tr.Source, "failures")),
			queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}),
			0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 1)
		threshold := IteratorAgeThreshold(m)
		b.alarm(fn, "IteratorAge"+id(tr.Source), b.name(f.Name, tr.Source, "iterator-age"),
			fmt.Sprintf("%s is more than %s behind %s (records are given up on at %s)", f.Name, threshold, tr.Source, m.MaxRecordAge),
			awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("IteratorAge"),
				DimensionsMap: &map[string]*string{"FunctionName": fn.FunctionName()},
				Statistic:     jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
			}),
			float64(threshold.Milliseconds()), awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 3)
	}
}

// sqsOnFailure implements awslambda.IEventSourceDlq: the mapping's on-failure
// destination is the queue, and the function's role may send to it (Lambda
// sends with the function's role) and nothing more.
type sqsOnFailure struct{ queue awssqs.Queue }

func (d *sqsOnFailure) Bind(_ awslambda.IEventSourceMapping, target awslambda.IFunction) *awslambda.DlqDestinationConfig {
	target.AddToRolePolicy(allow([]string{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}, d.queue.QueueArn()))
	return &awslambda.DlqDestinationConfig{Destination: d.queue.QueueArn()}
}
