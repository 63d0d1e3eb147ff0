package stack

import (
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Environment variables the stack computes beyond the resources' names (the
// topology declares them with every function's settings).
const (
	// EnvSupabaseURL reaches the authorizer functions (the Supabase project URL
	// gives the token issuer and the JWKS URL) and every function that
	// declares it (a user of Supabase Auth's admin API).
	EnvSupabaseURL = topology.SupabaseURLEnvVar
	// EnvWebSocketCallbackURL reaches functions with ManageConnections: the
	// @connections endpoint (https://<api>.execute-api.<region>.amazonaws.com/<stage>).
	EnvWebSocketCallbackURL = topology.WebSocketCallbackEnvVar
)

// DynamoDB actions per access level: exactly the item operations, no wildcard.
// TransactWriteItems needs the actions of its parts (PutItem, UpdateItem,
// DeleteItem, ConditionCheckItem); no function scans a table (replays run from
// the operator's CLI), and one may scan only the indexes it declares
// (topology.TableAccess.ScanIndexes). Append is Read plus PutItem: no
// UpdateItem or DeleteItem, and no BatchWriteItem, which can delete and cannot
// be conditioned. IAM cannot require a put's condition; the event store always
// sets one (attribute_not_exists(version)).
var tableActions = map[topology.Access][]string{
	topology.Read:   {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query"},
	topology.Append: {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
	topology.Count:  {"dynamodb:GetItem", "dynamodb:UpdateItem"},
	topology.AppendErase: {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
		"dynamodb:PutItem", "dynamodb:Query"},
	topology.Write: {"dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
	topology.ReadWrite: {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
}

// What an event source mapping needs of its source, on that source only.
var (
	dynamoStreamActions  = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
	kinesisReadActions   = []string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"}
	kinesisWriteActions  = []string{"kinesis:PutRecord", "kinesis:PutRecords"}
	secretReadActions    = []string{"secretsmanager:GetSecretValue"}
	logWriteActions      = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
	manageConnectActions = []string{"execute-api:ManageConnections"}
)

func allow(actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

func hasKind(f topology.Function, kinds ...topology.TriggerKind) bool {
	for _, tr := range f.Triggers {
		for _, k := range kinds {
			if tr.Kind == k {
				return true
			}
		}
	}
	return false
}

// functions creates every function with its own role, log group and alarms.
func (b *builder) functions() {
	for _, f := range b.topo.Functions {
		cid := "Fn" + id(f.Name)
		fnName := b.name(f.Name)
		logGroup := awslogs.NewLogGroup(b.st, jsii.String(cid+"Logs"), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String("/aws/lambda/" + *fnName),
			Retention:     b.cfg.retention(),
			RemovalPolicy: b.cfg.removal(),
		})
		role := awsiam.NewRole(b.st, jsii.String(cid+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("Execution role of " + *fnName + ": only what the topology grants it"),
		})
		// Logs go to the function's own group; no CreateLogGroup, the stack made it.
		role.AddToPolicy(allow(logWriteActions, logGroup.LogGroupArn()))

		// Exactly the settings the topology says this stack sets
		// (topology.Function.Environment; the tests hold the two together).
		env := map[string]*string{}
		for _, s := range f.Settings {
			if s.Value != "" {
				env[s.Name] = jsii.String(s.Value)
			}
		}
		for _, a := range f.Tables {
			tb, decl := b.Tables[a.Table], mustTable(b.topo, a.Table)
			env[decl.EnvVar] = tb.TableName()
			res := []*string{tb.TableArn()}
			if len(decl.Indexes) > 0 {
				res = append(res, jsii.String(*tb.TableArn()+"/index/*"))
			}
			role.AddToPolicy(allow(tableActions[a.Access], res...))
			for _, ix := range a.ScanIndexes {
				role.AddToPolicy(allow([]string{"dynamodb:Scan"}, jsii.String(*tb.TableArn()+"/index/"+ix)))
			}
		}
		for _, s := range b.topo.StreamAccess[f.Name] {
			decl, _ := b.topo.kinesis(s)
			env[decl.EnvVar] = b.Streams[s].StreamName()
			role.AddToPolicy(allow(kinesisWriteActions, b.Streams[s].StreamArn()))
		}
		for _, name := range f.Secrets {
			decl, _ := b.topo.secret(name)
			env[decl.EnvVar] = b.Secrets[name].SecretArn()
			role.AddToPolicy(allow(secretReadActions, b.Secrets[name].SecretArn()))
		}
		for _, tr := range f.Triggers {
			switch tr.Kind {
			case topology.DynamoDBStream:
				tb := b.Tables[tr.Source]
				role.AddToPolicy(allow(dynamoStreamActions, tb.TableStreamArn()))
				// ListStreams is authorized on the table's streams, not on one stream ARN.
				role.AddToPolicy(allow([]string{"dynamodb:ListStreams"}, jsii.String(*tb.TableArn()+"/stream/*")))
			case topology.KinesisStream:
				role.AddToPolicy(allow(kinesisReadActions, b.Streams[tr.Source].StreamArn()))
			}
		}
		// The authorizers verify Supabase's tokens; a holder of the service-role
		// key calls Supabase Auth's admin API.
		if _, reads := f.SettingByName(EnvSupabaseURL); reads || hasKind(f, topology.HTTPAuthorizer, topology.WSAuthorizer) || slices.Contains(f.Secrets, topology.ServiceRoleKey) {
			env[EnvSupabaseURL] = jsii.String(b.cfg.SupabaseURL)
		}
		b.mailAccess(f, role, env)
		if f.ManageConnections {
			stage := string(b.cfg.Stage)
			env[EnvWebSocketCallbackURL] = jsii.String(fmt.Sprintf("https://%s.execute-api.%s.%s/%s", *b.ws.ApiId(), *b.st.Region(), *b.st.UrlSuffix(), stage))
			role.AddToPolicy(allow(manageConnectActions, b.st.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("execute-api"), Resource: b.ws.ApiId(), ResourceName: jsii.String(stage + "/*/@connections/*"),
				ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			})))
		}

		b.tracingAccess(role, env)
		env[topology.StageEnvVar] = jsii.String(string(b.cfg.Stage)) // the metrics' Stage dimension

		props := &awslambda.FunctionProps{
			FunctionName: fnName,
			Description:  jsii.String(f.Purpose),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: awslambda.Architecture_ARM_64(),
			Handler:      jsii.String("bootstrap"),
			Code:         b.code(f),
			MemorySize:   jsii.Number(float64(f.Memory)),
			Timeout:      awscdk.Duration_Millis(jsii.Number(float64(f.Timeout.Milliseconds()))),
			Role:         role,
			LogGroup:     logGroup,
			// OpenTelemetry is the one tracer (tracingAccess): Lambda's own X-Ray
			// segments would be a second, unconnected trace of each invocation.
			Tracing:     awslambda.Tracing_DISABLED,
			Environment: &env,
		}
		if f.ReservedConcurrency > 0 {
			props.ReservedConcurrentExecutions = jsii.Number(float64(f.ReservedConcurrency))
		}
		fn := awslambda.NewFunction(b.st, jsii.String(cid), props)
		b.Functions[f.Name] = fn

		b.functionSuppressions(f, role)
		b.alarm(fn, "Errors", b.name(f.Name, "errors"), *fnName+" failed invocations (5 min)",
			fn.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
			1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1)
		b.alarm(fn, "Throttles", b.name(f.Name, "throttles"), *fnName+" throttled invocations (5 min): reserved concurrency or the account limit reached",
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
			1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1)
	}
}

// xraySpanActions send spans to X-Ray's OTLP endpoint (no resource-level
// permissions: Resource "*").
var xraySpanActions = []string{"xray:PutSpans", "xray:PutSpansForIndexing"}

// tracingAccess points the function's OpenTelemetry exporter at X-Ray's OTLP
// endpoint in the stack's region (SigV4-signed by functions/edge/lambdatrace;
// the account needs CloudWatch Transaction Search, docs/observability.md), at
// the stage's sampling ratio.
func (b *builder) tracingAccess(role awsiam.Role, env map[string]*string) {
	env[topology.TracesEndpointEnvVar] = jsii.String(fmt.Sprintf("https://xray.%s.%s/v1/traces", *b.st.Region(), *b.st.UrlSuffix()))
	env[topology.TracesSampleRatioEnvVar] = jsii.String(b.cfg.Stage.TraceSampleRatio())
	role.AddToPolicy(allow(xraySpanActions, jsii.String("*")))
}

func mustTable(t Topology, name string) topology.Table {
	tb, ok := t.table(name)
	if !ok {
		panic("unknown table " + name) // Check refused it already
	}
	return tb
}

// functionSuppressions documents the wildcards IAM5 finds in a function's role.
func (b *builder) functionSuppressions(f topology.Function, role awsiam.Role) {
	applies := []any{"Resource::*"}
	reasons := "X-Ray's PutSpans and PutSpansForIndexing (the OpenTelemetry spans sent to X-Ray's OTLP endpoint) support no resource-level permissions: AWS requires Resource \"*\"."
	indexes := false
	for _, a := range f.Tables {
		if len(mustTable(b.topo, a.Table).Indexes) > 0 {
			indexes = true
		}
	}
	if indexes {
		applies = append(applies, regex(`/^Resource::<Table[A-Za-z0-9]+\.Arn>\/index\/\*$/`))
		reasons += " <table>/index/* covers the table's declared global secondary indexes, and only them."
	}
	if hasKind(f, topology.DynamoDBStream) {
		applies = append(applies, regex(`/^Resource::<Table[A-Za-z0-9]+\.Arn>\/stream\/\*$/`))
		reasons += " dynamodb:ListStreams is authorized on <table>/stream/*: the table's own streams, whose labels change when a stream is re-enabled."
	}
	if f.SendsSMS {
		reasons += " sns:Publish to a phone number (SMS) names no resource ARN, so it is allowed on * and denied on every SNS topic and endpoint ARN: the function can text a number and publish nowhere else."
	}
	if f.ManageConnections {
		applies = append(applies, regex(`/^Resource::arn:<AWS::Partition>:execute-api:.*\/@connections\/\*$/`))
		reasons += " execute-api:ManageConnections is scoped to this stage's @connections/*: connection IDs are only known at run time."
	}
	suppress(role, "AwsSolutions-IAM5", reasons, applies...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
