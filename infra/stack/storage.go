package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// secrets creates one empty secret per secret of the selected topology (a
// provider's key only where a chosen source uses it). The operator fills it
// (README); functions get its ARN, never its value. Secrets are kept
// when the stack goes, in every stage: their values were typed in by hand.
func (b *builder) secrets() {
	for _, s := range b.topo.Secrets {
		if s.Generated {
			b.generatedSecret(s)
			continue
		}
		sec := awssecretsmanager.NewSecret(b.st, jsii.String("Secret"+id(s.Name)), &awssecretsmanager.SecretProps{
			SecretName:    b.name(s.Name),
			Description:   jsii.String(s.Purpose + " (filled by the operator; see infra/README.md)"),
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		// The L2 construct generates a random value when given none; these secrets
		// start empty and are filled by the operator.
		sec.Node().DefaultChild().(awssecretsmanager.CfnSecret).AddPropertyDeletionOverride(jsii.String("GenerateSecretString"))
		suppress(sec, "AwsSolutions-SMG4", "The value is a third-party credential that Supabase (database DSN, JWT secret, service-role key) or a market-data "+
			"provider (API key) issues; Secrets Manager cannot rotate it. Rotate it at its issuer and put the new value here.")
		b.Secrets[s.Name] = sec
	}
}

// generatedSecret is a key of the system's own (topology.Secret.Generated): Secrets Manager's random value, 64
// letters and digits, set at the first deployment and kept after.
func (b *builder) generatedSecret(s topology.Secret) {
	sec := awssecretsmanager.NewSecret(b.st, jsii.String("Secret"+id(s.Name)), &awssecretsmanager.SecretProps{
		SecretName:    b.name(s.Name),
		Description:   jsii.String(s.Purpose + " (generated at the first deployment)"),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		},
	})
	suppress(sec, "AwsSolutions-SMG4", "A signing key of the system's own whose signatures must outlive a rotation: the unsubscribe links in mail "+
		"already sent carry tokens signed with it (versioned), so it is rotated by hand, adding a version, not on a schedule.")
	b.Secrets[s.Name] = sec
}

func attr(k topology.Key) *awsdynamodb.Attribute {
	t := awsdynamodb.AttributeType_STRING
	if k.Type == topology.Number {
		t = awsdynamodb.AttributeType_NUMBER
	}
	return &awsdynamodb.Attribute{Name: jsii.String(k.Name), Type: t}
}

// tables creates the DynamoDB tables: on-demand, encrypted with the AWS managed
// key, keys, indexes, TTL and stream as declared, PITR where declared; in prod
// deletion-protected and retained.
func (b *builder) tables() {
	prod := b.cfg.Stage == Prod
	for _, t := range b.topo.Tables {
		props := &awsdynamodb.TableProps{
			TableName:          b.name(t.Name),
			PartitionKey:       attr(t.PartitionKey),
			BillingMode:        awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
			DeletionProtection: jsii.Bool(prod),
			RemovalPolicy:      b.cfg.removal(),
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(t.PointInTimeRecovery),
			},
		}
		if t.SortKey != nil {
			props.SortKey = attr(*t.SortKey)
		}
		if t.TTLAttribute != "" {
			props.TimeToLiveAttribute = jsii.String(t.TTLAttribute)
		}
		switch t.Stream {
		case topology.NoStream:
		case topology.NewImage:
			props.Stream = awsdynamodb.StreamViewType_NEW_IMAGE
		default:
			panic(fmt.Sprintf("table %s: stream view %q is not mapped", t.Name, t.Stream))
		}
		tb := awsdynamodb.NewTable(b.st, jsii.String("Table"+id(t.Name)), props)
		for _, ix := range t.Indexes {
			gp := &awsdynamodb.GlobalSecondaryIndexProps{IndexName: jsii.String(ix.Name), PartitionKey: attr(ix.PartitionKey), ProjectionType: awsdynamodb.ProjectionType_ALL}
			if ix.SortKey != nil {
				gp.SortKey = attr(*ix.SortKey)
			}
			if ix.KeysOnly {
				gp.ProjectionType = awsdynamodb.ProjectionType_KEYS_ONLY
			}
			tb.AddGlobalSecondaryIndex(gp)
		}
		if !t.PointInTimeRecovery {
			suppress(tb, "AwsSolutions-DDB3", fmt.Sprintf("The topology declares no point-in-time recovery for %q (%s): its items are derived, "+
				"re-fetched or expire within hours, so a restore would bring back nothing worth its cost.", t.Name, t.Purpose))
		}
		b.Tables[t.Name] = tb
	}
}

// kinesisStreams creates the Kinesis data streams: on-demand (no shard sizing to
// get wrong), encrypted with the AWS managed key.
func (b *builder) kinesisStreams() {
	for _, s := range b.topo.KinesisStreams {
		retention := s.Retention
		if retention == 0 {
			retention = 24 * time.Hour
		}
		b.Streams[s.Name] = awskinesis.NewStream(b.st, jsii.String("Stream"+id(s.Name)), &awskinesis.StreamProps{
			StreamName:      b.name(s.Name),
			StreamMode:      awskinesis.StreamMode_ON_DEMAND,
			Encryption:      awskinesis.StreamEncryption_MANAGED,
			RetentionPeriod: awscdk.Duration_Hours(jsii.Number(retention.Hours())),
			RemovalPolicy:   b.cfg.removal(),
		})
	}
}

// secretOutputs names each secret for the operator who fills it.
func (b *builder) secretOutputs() {
	for _, s := range b.topo.Secrets {
		what := "fill with: "
		if s.Generated {
			what = "generated: "
		}
		awscdk.NewCfnOutput(b.st, jsii.String("SecretName"+id(s.Name)), &awscdk.CfnOutputProps{
			Value:       b.Secrets[s.Name].SecretName(),
			Description: jsii.String(what + s.Purpose),
		})
	}
}
