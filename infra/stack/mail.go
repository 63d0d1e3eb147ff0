package stack

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// What the functions that send mail and SMS are allowed, and nothing else.
var (
	// sesSendActions: SESv2 SendEmail (its IAM action keeps SES's v1 name), on the identity and the configuration
	// set only, from the configured sender only (ses:FromAddress).
	sesSendActions = []string{"ses:SendEmail"}
	// smsPublishActions: SNS Publish to a phone number, which has no ARN: allowed on *, and denied on every topic
	// and platform endpoint (smsOnlyDeny), so the function can text a number and publish nowhere else.
	smsPublishActions = []string{"sns:Publish"}
)

// smsOnlyDeny is every SNS ARN: topics and platform endpoints; a Publish to a phone number names none.
func (b *builder) smsOnlyDeny() *string {
	return jsii.String(fmt.Sprintf("arn:%s:sns:*:*:*", *awscdk.Aws_PARTITION()))
}

// mailResources are the SES and SNS resources of the notifications.
type mailResources struct {
	identity  awsses.EmailIdentity
	configSet awsses.ConfigurationSet
	topic     awssns.Topic
}

// sendsMail reports whether t needs the mail resources: a function sends e-mail (or reads the mail settings) or
// subscribes to SES's events.
func sendsMail(t Topology) bool {
	for _, f := range t.Functions {
		_, from := f.SettingByName(topology.MailFromEnvVar)
		_, set := f.SettingByName(topology.SESConfigurationSetEnvVar)
		if f.SendsEmail || from || set {
			return true
		}
	}
	return len(t.triggers(topology.SNSTopic)) > 0
}

// mailIdentity creates, when a function sends e-mail, the SES domain identity (Easy DKIM: its three CNAME
// records are outputs for the operator's DNS), the configuration set that mail is sent with, and the topic its
// event destination publishes every bounce and complaint to. The topic is encrypted with a key of its own that
// SES may use (SES cannot publish to a topic under the AWS managed key) and takes TLS only. SES's account-level
// suppression list is on for the configuration set as well: the notifier's own list (email_suppressions) is
// what the history shows, SES's catches what reaches SES first.
func (b *builder) mailIdentity() {
	if !sendsMail(b.topo) {
		return
	}
	setName := b.name(topology.SESConfigurationSet)
	key := awskms.NewKey(b.st, jsii.String("SesEventsKey"), &awskms.KeyProps{
		Description:       jsii.String("encrypts the " + *b.name(topology.SESEventsTopic) + " topic (SES bounces and complaints: recipients' addresses)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     b.cfg.removal(),
	})
	ses := awsiam.NewServicePrincipal(jsii.String("ses.amazonaws.com"), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{ses},
		Actions:    jsii.Strings("kms:GenerateDataKey*", "kms:Decrypt"),
		Resources:  jsii.Strings("*"), // in a key policy, * is this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": b.st.Account()}},
	}), nil)
	topic := awssns.NewTopic(b.st, jsii.String("Topic"+id(topology.SESEventsTopic)), &awssns.TopicProps{
		TopicName:  b.name(topology.SESEventsTopic),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
	// SES publishes for this account's configuration set only.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{ses},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": b.st.Account()},
			"ArnLike":      map[string]any{"aws:SourceArn": b.configurationSetArn(setName)},
		},
	}))
	configSet := awsses.NewConfigurationSet(b.st, jsii.String("MailConfigurationSet"), &awsses.ConfigurationSetProps{
		ConfigurationSetName: setName,
		SendingEnabled:       jsii.Bool(true),
		ReputationMetrics:    jsii.Bool(true),
		SuppressionReasons:   awsses.SuppressionReasons_BOUNCES_AND_COMPLAINTS,
	})
	configSet.AddEventDestination(jsii.String("SesEvents"), &awsses.ConfigurationSetEventDestinationOptions{
		ConfigurationSetEventDestinationName: b.name(topology.SESEventsTopic),
		Destination:                          awsses.EventDestination_SnsTopic(topic),
		Events:                               &[]awsses.EmailSendingEvent{awsses.EmailSendingEvent_BOUNCE, awsses.EmailSendingEvent_COMPLAINT},
	})
	identity := awsses.NewEmailIdentity(b.st, jsii.String("MailIdentity"), &awsses.EmailIdentityProps{
		Identity:         awsses.Identity_Domain(jsii.String(b.cfg.MailDomain)),
		ConfigurationSet: configSet,
	})
	for i, pair := range [][2]*string{
		{identity.DkimDnsTokenName1(), identity.DkimDnsTokenValue1()},
		{identity.DkimDnsTokenName2(), identity.DkimDnsTokenValue2()},
		{identity.DkimDnsTokenName3(), identity.DkimDnsTokenValue3()},
	} {
		awscdk.NewCfnOutput(b.st, jsii.String(fmt.Sprintf("MailDkimRecord%d", i+1)), &awscdk.CfnOutputProps{
			Value:       awscdk.Fn_Join(jsii.String(" CNAME "), &[]*string{pair[0], pair[1]}),
			Description: jsii.String(fmt.Sprintf("DNS record %d of 3 that verifies %s for SES (Easy DKIM); mail is refused until they resolve", i+1, b.cfg.MailDomain)),
		})
	}
	b.mail = &mailResources{identity: identity, configSet: configSet, topic: topic}
}

func (b *builder) configurationSetArn(name *string) *string {
	return b.st.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ses"), Resource: jsii.String("configuration-set"),
		ResourceName: name, ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
}

// mailAccess grants f what its SendsEmail and SendsSMS ask for, and sets the mail settings it declares
// (topology.MailFromEnvVar, topology.SESConfigurationSetEnvVar) for this stack to set. A function that declares them
// without sending e-mail would find no configuration set: sendsMail counts it too.
func (b *builder) mailAccess(f topology.Function, role awsiam.Role, env map[string]*string) {
	for _, s := range f.Settings {
		if s.SetBy&topology.CDKStack == 0 || s.Value != "" {
			continue
		}
		switch s.Name {
		case topology.MailFromEnvVar:
			env[s.Name] = jsii.String(b.cfg.MailFrom)
		case topology.SESConfigurationSetEnvVar:
			env[s.Name] = b.mail.configSet.ConfigurationSetName()
		}
	}
	if f.SendsEmail {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Effect:     awsiam.Effect_ALLOW,
			Actions:    jsii.Strings(sesSendActions...),
			Resources:  &[]*string{b.mail.identity.EmailIdentityArn(), b.configurationSetArn(b.mail.configSet.ConfigurationSetName())},
			Conditions: &map[string]any{"StringEquals": map[string]any{"ses:FromAddress": b.cfg.mailFromAddress()}},
		}))
	}
	if f.SendsSMS {
		role.AddToPolicy(allow(smsPublishActions, jsii.String("*")))
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Effect: awsiam.Effect_DENY, Actions: jsii.Strings(smsPublishActions...), Resources: &[]*string{b.smsOnlyDeny()},
		}))
	}
}

// mailSubscriptions subscribes every function with an sns-topic trigger to the SES events topic, each with a
// dead-letter queue (encrypted, TLS only; CDK's queue policy lets only the topic send to it) that keeps a
// notification SNS could not deliver to the function after its retries (throttled, the function unavailable), so a
// bounce is not lost: it alarms when it holds any (an operator redrives or reads the messages).
func (b *builder) mailSubscriptions() {
	for _, ft := range b.topo.triggers(topology.SNSTopic) {
		name := ft.Function.Name
		queue := awssqs.NewQueue(b.st, jsii.String("Subscription"+id(name, ft.Trigger.Source)+"DeadLetters"), &awssqs.QueueProps{
			QueueName:       b.name(name, ft.Trigger.Source, "dead-letters"),
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: duration(FailureRetention),
			RemovalPolicy:   b.cfg.removal(),
		})
		suppress(queue, "AwsSolutions-SQS3", fmt.Sprintf("This queue is itself the dead-letter queue of %s's subscription to %s: "+
			"it alarms when it holds any, and a queue behind it would add nothing.", name, ft.Trigger.Source))
		b.mail.topic.AddSubscription(awssnssubscriptions.NewLambdaSubscription(b.Functions[name],
			&awssnssubscriptions.LambdaSubscriptionProps{DeadLetterQueue: queue}))
		b.alarm(queue, "NotEmpty", b.name(name, ft.Trigger.Source, "dead-letters-not-empty"),
			fmt.Sprintf("SNS could not deliver %s notifications to %s: they are in the queue %s", ft.Trigger.Source, name,
				*b.name(name, ft.Trigger.Source, "dead-letters")),
			queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}),
			0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 1)
	}
}

// domainName is a DNS name of at least two labels.
var domainName = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// validateMail checks the mail settings: a domain, and a sender at it (or a subdomain, which a verified domain
// covers in SES).
func (c Config) validateMail() error {
	if c.MailDomain == "" && c.MailFrom == "" {
		return nil
	}
	if !domainName.MatchString(c.MailDomain) {
		return fmt.Errorf("-c %s=%q: want the domain SES sends from, such as mail.example.com", CtxMailDomain, c.MailDomain)
	}
	addr, err := mail.ParseAddress(c.MailFrom)
	if err != nil {
		return fmt.Errorf("-c %s=%q: want an address such as \"Portfolio Tracker <alerts@%s>\": %v", CtxMailFrom, c.MailFrom, c.MailDomain, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	domain = strings.ToLower(domain)
	if d := strings.ToLower(c.MailDomain); domain != d && !strings.HasSuffix(domain, "."+d) {
		return fmt.Errorf("-c %s=%q: the sender must be at %s (the verified identity) or a subdomain of it", CtxMailFrom, c.MailFrom, c.MailDomain)
	}
	return nil
}

// mailFromAddress is the bare address of MailFrom (ses:FromAddress compares that).
func (c Config) mailFromAddress() string {
	if addr, err := mail.ParseAddress(c.MailFrom); err == nil {
		return addr.Address
	}
	return c.MailFrom
}

// defaultMailFrom is the sender when only the domain is given.
func defaultMailFrom(domain string) string { return "Portfolio Tracker <alerts@" + domain + ">" }
