package stack

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/triggers"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Schedule delivery: a missed run is retried for up to an hour, then dropped (the
// next run supersedes it).
const (
	ScheduleRetries = 3
	ScheduleMaxAge  = time.Hour
)

// ScheduleName is the physical name of a function's schedule trigger (its
// position among the function's triggers keeps it stable and unique).
func ScheduleName(prefix, function string, index int) string {
	return fmt.Sprintf("%s%s-%d", prefix, function, index)
}

// schedules creates one EventBridge Scheduler schedule per schedule trigger, in
// the declared time zone, each with its own role that may invoke only its
// function.
func (b *builder) schedules() {
	for _, ft := range b.topo.triggers(topology.Schedule) {
		f, tr := ft.Function, ft.Trigger
		fn := b.Functions[f.Name]
		cid := "Schedule" + id(f.Name) + fmt.Sprint(ft.Index)
		role := awsiam.NewRole(b.st, jsii.String(cid+"Role"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
				Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": b.st.Account()}},
			}),
			Description: jsii.String("EventBridge Scheduler: invokes " + *fn.FunctionName() + " and nothing else"),
		})
		role.AddToPolicy(allow([]string{"lambda:InvokeFunction"}, fn.FunctionArn()))
		target := &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     fn.FunctionArn(),
			RoleArn: role.RoleArn(),
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(ScheduleRetries),
				MaximumEventAgeInSeconds: jsii.Number(ScheduleMaxAge.Seconds()),
			},
		}
		if tr.Input != "" {
			target.Input = jsii.String(tr.Input)
		}
		awsscheduler.NewCfnSchedule(b.st, jsii.String(cid), &awsscheduler.CfnScheduleProps{
			Name:                       jsii.String(ScheduleName(b.cfg.Prefix(), f.Name, ft.Index)),
			Description:                jsii.String(fmt.Sprintf("%s: %s (%s)", f.Name, tr.Expression, tr.TimeZone)),
			ScheduleExpression:         jsii.String(tr.Expression),
			ScheduleExpressionTimezone: jsii.String(tr.TimeZone),
			FlexibleTimeWindow:         &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			State:                      jsii.String("ENABLED"),
			Target:                     target,
		})
	}
}

// afterDeployment runs each after-deployment function (the schema migrations)
// during the deployment, through a CDK trigger: synchronously, failing the
// deployment when the function fails, and again whenever the function changes
// (its code, which embeds the migrations, or its configuration). It runs after
// the secrets exist and before the stack's other functions are updated, so new
// code does not meet an old schema.
func (b *builder) afterDeployment() {
	for _, ft := range b.topo.triggers(topology.AfterDeployment) {
		f := ft.Function
		fn := b.Functions[f.Name]
		var after, before []constructs.Construct
		for _, s := range f.Secrets {
			after = append(after, b.Secrets[s])
		}
		for _, other := range b.topo.Functions {
			if other.Name != f.Name && !hasKind(other, topology.AfterDeployment) {
				before = append(before, b.Functions[other.Name])
			}
		}
		triggers.NewTrigger(b.st, jsii.String("AfterDeployment"+id(f.Name)), &triggers.TriggerProps{
			Handler:                fn,
			ExecuteOnHandlerChange: jsii.Bool(true),
			InvocationType:         triggers.InvocationType_REQUEST_RESPONSE,
			Timeout:                awscdk.Duration_Millis(jsii.Number(float64(f.Timeout.Milliseconds()))),
			ExecuteAfter:           &after,
			ExecuteBefore:          &before,
		})
	}
}
