package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/jsii-runtime-go"
)

// The web app (web/, a Next.js static export) is served from a private S3
// bucket through CloudFront (origin access control), with its runtime
// configuration, /config.json, written at deploy time from the stack's own
// URLs: one build serves every stage (docs/architecture.md §12, "Hosting").

// WebConfigFile is the runtime configuration the app fetches at start.
const WebConfigFile = "config.json"

// WebIndex is what a built web app (Props.WebDir) must hold.
const WebIndex = "index.html"

// webStaticPrefix is where Next writes the content-hashed assets (JS, CSS,
// fonts): cached for a year, immutable; everything else revalidates.
const webStaticPrefix = "_next/static/"

// HSTSMaxAge is the Strict-Transport-Security max-age: two years, the preload
// list's minimum.
const HSTSMaxAge = 2 * 365 * 24 * 60 * 60

// WebRewriteFunction is the CloudFront Function (viewer request) that maps a
// page's path to the file Next's static export wrote for it (trailingSlash:
// /portfolio/ → /portfolio/index.html, and /portfolio → the same file); a
// path whose last segment has a dot is a file and passes as it is.
const WebRewriteFunction = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
  } else if (uri.lastIndexOf('.') < uri.lastIndexOf('/')) {
    request.uri = uri + '/index.html';
  }
  return request;
}`

// CheckWebDir reports whether dir holds a built web app (its index.html).
func CheckWebDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no web app directory given")
	}
	if _, err := os.Stat(filepath.Join(dir, WebIndex)); err != nil {
		return fmt.Errorf("%s has no %s: build the web app first (make web writes web/out)", dir, WebIndex)
	}
	return nil
}

// WebPlaceholder writes into dir a stand-in for the web app (one page saying
// it is one), for a synthesis that must not need a Next build (make synth,
// the tests); main refuses it under the CDK CLI (a deployment), so it is never
// deployed.
func WebPlaceholder(dir string) error {
	page := "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Portfolio Tracker</title></head>" +
		"<body><h1>Portfolio Tracker</h1><p>Placeholder: this synthesis ran without a build of the web app (make web).</p></body></html>\n"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, WebIndex), []byte(page), 0o644)
}

// WebConfig is the content of /config.json (the web app's runtime
// configuration; web/src/lib/config.ts reads it). apiUrl has no trailing
// slash (https://<api>.execute-api.<region>.amazonaws.com: the $default
// stage), wsUrl ends with the stage (wss://<api>.execute-api.<region>.amazonaws.com/<stage>).
type WebConfig struct {
	APIURL          *string `json:"apiUrl"`
	WSURL           *string `json:"wsUrl"`
	SupabaseURL     *string `json:"supabaseUrl"`
	SupabaseAnonKey *string `json:"supabaseAnonKey"`
	Stage           *string `json:"stage"`
}

// webSite builds the web app's hosting: the private bucket, the CloudFront
// distribution in front of it (origin access control, the path rewrite, the
// security headers), the deployment of the built app and of config.json, and
// the site's URL as an output. It runs after the APIs, whose URLs config.json
// and the CSP carry.
func (b *builder) webSite() {
	bucket := b.webBucket()
	rewrite := awscloudfront.NewFunction(b.st, jsii.String("WebRewrite"), &awscloudfront.FunctionProps{
		Code:         awscloudfront.FunctionCode_FromInline(jsii.String(WebRewriteFunction)),
		Runtime:      awscloudfront.FunctionRuntime_JS_2_0(),
		FunctionName: b.name("web-rewrite"),
		Comment:      jsii.String("maps /x/ and /x to /x/index.html, the static export's file"),
	})
	headers := awscloudfront.NewResponseHeadersPolicy(b.st, jsii.String("WebHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		ResponseHeadersPolicyName: b.name("web-headers"),
		Comment:                   jsii.String("security headers of the web app"),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: b.contentSecurityPolicy(), Override: jsii.Bool(true)},
			ContentTypeOptions:    &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:          &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy: &awscloudfront.ResponseHeadersReferrerPolicy{
				ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_STRICT_ORIGIN_WHEN_CROSS_ORIGIN, Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Seconds(jsii.Number(HSTSMaxAge)), IncludeSubdomains: jsii.Bool(true), Override: jsii.Bool(true)},
		},
	})
	dist := awscloudfront.NewDistribution(b.st, jsii.String("WebDistribution"), &awscloudfront.DistributionProps{
		Comment: jsii.String("Portfolio tracker web app (" + string(b.cfg.Stage) + ")"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(bucket, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			ResponseHeadersPolicy: headers,
			Compress:              jsii.Bool(true),
			FunctionAssociations: &[]*awscloudfront.FunctionAssociation{
				{Function: rewrite, EventType: awscloudfront.FunctionEventType_VIEWER_REQUEST},
			},
		},
		DefaultRootObject: jsii.String(WebIndex),
		// Without s3:ListBucket, S3 answers a missing key 403: the export's 404 page.
		ErrorResponses: &[]*awscloudfront.ErrorResponse{
			{HttpStatus: jsii.Number(403), ResponseHttpStatus: jsii.Number(404), ResponsePagePath: jsii.String("/404.html"), Ttl: awscdk.Duration_Minutes(jsii.Number(1))},
			{HttpStatus: jsii.Number(404), ResponseHttpStatus: jsii.Number(404), ResponsePagePath: jsii.String("/404.html"), Ttl: awscdk.Duration_Minutes(jsii.Number(1))},
		},
		HttpVersion: awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:  awscloudfront.PriceClass_PRICE_CLASS_100,
	})
	suppress(dist, "AwsSolutions-CFR1", "A web app for its users wherever they are; no country is excluded.")
	suppress(dist, "AwsSolutions-CFR2", "Static files only: what they call, the HTTP API, is throttled per stage and authorized per request; "+
		"a WAF web ACL costs more than the site it would guard. Attach one (webAclId) when the app is public.")
	suppress(dist, "AwsSolutions-CFR3", "Static files, the same for everyone; the requests that carry data are the API's, whose access logs are kept.")
	suppress(dist, "AwsSolutions-CFR4", "The distribution's own *.cloudfront.net certificate, whose TLS policy CloudFront sets; "+
		"a custom domain's certificate would take minimumProtocolVersion TLSv1.2_2021.")
	b.webURL = awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://"), dist.DistributionDomainName()})
	b.WebURL = b.webURL
	b.webDeployments(bucket, dist)
	awscdk.NewCfnOutput(b.st, jsii.String("WebUrl"), &awscdk.CfnOutputProps{Value: b.webURL, Description: jsii.String("the web app")})
}

// webBucket is the site's bucket: private (every public access blocked, read
// by CloudFront alone through origin access control), encrypted, TLS only.
// Deleted with a dev stack (its deployments empty it first), kept in prod.
func (b *builder) webBucket() awss3.Bucket {
	bucket := awss3.NewBucket(b.st, jsii.String("WebBucket"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     b.cfg.removal(),
	})
	suppress(bucket, "AwsSolutions-S1", "It holds the built web app, written only by the stack's deployment; who reads it is in CloudFront, "+
		"its only reader (origin access control).")
	return bucket
}

// webDeployments copies the built app into the bucket and writes config.json
// from the stack's URLs, with their cache lifetimes: the content-hashed assets
// for a year (kept across deployments, so a page loaded before one still finds
// its scripts), the pages revalidated on every load (pruned: a page removed
// from the app goes), config.json never cached. The pages' deployment
// invalidates the distribution.
func (b *builder) webDeployments(bucket awss3.Bucket, dist awscloudfront.Distribution) {
	logs := awslogs.NewLogGroup(b.st, jsii.String("WebDeploymentLogs"), &awslogs.LogGroupProps{
		LogGroupName:  b.name("web-deployment"),
		Retention:     b.cfg.retention(),
		RemovalPolicy: b.cfg.removal(),
	})
	site := awss3deployment.Source_Asset(jsii.String(b.webDir), nil)
	retain := jsii.Bool(b.cfg.Stage == Prod)
	deploy := func(cid string, props *awss3deployment.BucketDeploymentProps) awss3deployment.BucketDeployment {
		props.DestinationBucket, props.LogGroup, props.RetainOnDelete, props.MemoryLimit = bucket, logs, retain, jsii.Number(512)
		d := awss3deployment.NewBucketDeployment(b.st, jsii.String(cid), props)
		b.webDeploys = append(b.webDeploys, d)
		return d
	}
	deploy("WebAssets", &awss3deployment.BucketDeploymentProps{
		Sources: &[]awss3deployment.ISource{site},
		Include: jsii.Strings(webStaticPrefix + "*"), Exclude: jsii.Strings("*"),
		Prune:        jsii.Bool(false),
		CacheControl: &[]awss3deployment.CacheControl{awss3deployment.CacheControl_SetPublic(), awss3deployment.CacheControl_MaxAge(awscdk.Duration_Days(jsii.Number(365))), awss3deployment.CacheControl_Immutable()},
	})
	deploy("WebPages", &awss3deployment.BucketDeploymentProps{
		Sources: &[]awss3deployment.ISource{site},
		// Excluded files are neither copied nor pruned: the assets and
		// config.json belong to the other deployments.
		Exclude:           jsii.Strings(webStaticPrefix+"*", WebConfigFile),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_SetPublic(), awss3deployment.CacheControl_MaxAge(awscdk.Duration_Seconds(jsii.Number(0))), awss3deployment.CacheControl_MustRevalidate()},
		Distribution:      dist,
		DistributionPaths: jsii.Strings("/*"),
	})
	deploy("WebConfig", &awss3deployment.BucketDeploymentProps{
		Sources: &[]awss3deployment.ISource{awss3deployment.Source_JsonData(jsii.String(WebConfigFile), &WebConfig{
			APIURL: b.httpAPIEndpoint, WSURL: b.WSURL, SupabaseURL: jsii.String(b.cfg.SupabaseURL),
			SupabaseAnonKey: jsii.String(b.cfg.SupabaseAnonKey), Stage: jsii.String(string(b.cfg.Stage)),
		}, nil)},
		Include: jsii.Strings(WebConfigFile), Exclude: jsii.Strings("*"),
		Prune:             jsii.Bool(false),
		CacheControl:      &[]awss3deployment.CacheControl{awss3deployment.CacheControl_NoCache()},
		Distribution:      dist,
		DistributionPaths: jsii.Strings("/" + WebConfigFile),
	})
	b.suppressDeploymentProvider()
}

// contentSecurityPolicy is the site's CSP. Scripts: Next's static export
// inlines its bootstrap and the pages' payload in <script> elements (different
// on every page and build, too many for hashes within CloudFront's limit on
// the header), so 'unsafe-inline' — and never 'unsafe-eval'. Styles: the
// export links its CSS, but lightweight-charts injects a <style> element (its
// attribution logo), so 'unsafe-inline' there too. connect-src: the HTTP API,
// the WebSocket API and Supabase's Auth, nothing else. When the HTTP API's
// CORS names this distribution (no frontendOrigin), naming the API here would
// make the two depend on each other (CloudFormation refuses the cycle): the
// policy then names the execute-api hosts of the stack's region.
func (b *builder) contentSecurityPolicy() *string {
	httpAPI := b.httpAPIEndpoint
	if b.cfg.FrontendOrigin == "" || httpAPI == nil {
		httpAPI = awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("https://*.execute-api."), awscdk.Aws_REGION(), jsii.String("."), awscdk.Aws_URL_SUFFIX()})
	}
	connect := []*string{jsii.String("'self'"), httpAPI}
	if b.ws != nil {
		connect = append(connect, b.ws.ApiEndpoint())
	}
	connect = append(connect, jsii.String(b.cfg.SupabaseURL))
	parts := []*string{jsii.String("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; connect-src ")}
	for i, c := range connect {
		if i > 0 {
			parts = append(parts, jsii.String(" "))
		}
		parts = append(parts, c)
	}
	return awscdk.Fn_Join(jsii.String(""), &parts)
}

// corsOrigins are the origins the HTTP API's CORS admits: frontendOrigin when
// given, else the web app's own URL (the distribution's, produced lazily: the
// distribution is built after the API), and in dev also the local dev server's.
func (b *builder) corsOrigins() *[]*string {
	if b.cfg.FrontendOrigin != "" {
		return jsii.Strings(b.cfg.FrontendOrigin)
	}
	origins := []*string{awscdk.Lazy_String(&lazyString{produce: func() *string { return b.webURL }}, nil)}
	if b.cfg.Stage == Dev {
		origins = append(origins, jsii.String(DevFrontendOrigin))
	}
	return &origins
}

// lazyString produces a value known only later in the build.
type lazyString struct{ produce func() *string }

// Produce implements awscdk.IStableStringProducer.
func (l *lazyString) Produce() *string { return l.produce() }

// WebDeploymentProvider is the construct ID prefix of the CDK's bucket
// deployment function (a singleton of the stack, which the deployments share;
// its logical ID starts with it, "::" removed).
const WebDeploymentProvider = "Custom::CDKBucketDeployment"

// suppressDeploymentProvider records, with their reasons, cdk-nag's findings
// on the CDK's bucket deployment function, which this package does not write:
// AWS's basic execution policy, the S3 actions with wildcards its grants use
// (on the asset bucket and the site's bucket alone) and its runtime, which
// the CDK release chooses.
func (b *builder) suppressDeploymentProvider() {
	for _, c := range *b.st.Node().Children() {
		if !strings.HasPrefix(*c.Node().Id(), WebDeploymentProvider) {
			continue
		}
		suppress(c, "AwsSolutions-IAM4", "The CDK's bucket deployment function (aws-s3-deployment) logs with AWSLambdaBasicExecutionRole; "+
			"this package does not build its role.", "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
		suppress(c, "AwsSolutions-IAM5", "The CDK's bucket deployment grants (s3:GetObject*, s3:List*, s3:DeleteObject*, ...) are on the "+
			"CDK asset bucket and the site's bucket only; CloudFront's invalidation actions take no narrower resource than *.",
			"Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*", "Action::s3:Abort*", "Resource::*",
			regex(`/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[0-9]+-[a-z0-9-]+\/\*$/`),
			regex(`/^Resource::<WebBucket[A-Za-z0-9]+\.Arn>\/\*$/`))
		suppress(c, "AwsSolutions-L1", "The runtime of the CDK's bucket deployment function is the one its aws-cdk-lib release ships with.")
	}
}
