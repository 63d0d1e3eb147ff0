package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// CheckAwsSolutions adds cdk-nag's AWS Solutions rules to scope: an unsuppressed
// finding becomes an error annotation, which fails `cdk deploy`, main and the
// tests. Every suppression in this package carries its reason.
func CheckAwsSolutions(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// suppress records a cdk-nag suppression with its reason on c and its children.
// appliesTo narrows it to findings such as "Resource::*" (strings) or
// &cdknag.RegexAppliesTo{...}.
func suppress(c constructs.IConstruct, rule, reason string, appliesTo ...any) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]interface{}, len(appliesTo))
		copy(list, appliesTo)
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

func regex(re string) *cdknag.RegexAppliesTo { return &cdknag.RegexAppliesTo{Regex: jsii.String(re)} }

// Message unpacks an annotation (a cdk-nag finding or a CDK error) as the
// assertions and cloud assembly APIs return it. The Go bindings still hand out
// cxapi.SynthesisMessage, whose definition moved to @aws-cdk/cloud-assembly-api,
// a package without Go bindings; this is the one place that reads it.
//
//lint:ignore SA1019 no Go binding of the new definition exists
func Message(m *cxapi.SynthesisMessage) (level, path string, data any) {
	//lint:ignore SA1019 no Go binding of the new definition exists
	level = string(m.Level)
	//lint:ignore SA1019 no Go binding of the new definition exists
	path = *m.Id
	//lint:ignore SA1019 no Go binding of the new definition exists
	data = m.Entry.Data
	return level, path, data
}
