package stack

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// API settings.
const (
	// HTTPIdentitySource and WSIdentitySource are where the authorizers find the
	// token (functions/edge/lambdaauth): the Authorization header on the HTTP API, the
	// token query parameter on WebSocket $connect (browsers cannot set headers there).
	HTTPIdentitySource = "$request.header.Authorization"
	WSIdentitySource   = "route.request.querystring.token"
	// AuthorizerCacheSeconds caches an HTTP API decision per token. The access
	// tokens live an hour; a revoked token stays usable for at most this long.
	AuthorizerCacheSeconds = 300
	// ConnectRoute is the WebSocket route the authorizer guards.
	ConnectRoute = "$connect"
)

// Throttle is the stage-wide default route throttling per stage.
func Throttle(s Stage) (rate, burst float64) {
	if s == Prod {
		return 100, 200
	}
	return 20, 40
}

// HTTPAccessLogFormat and WSAccessLogFormat are the access log lines: one JSON
// object per request (no token, no query string, no body, and not the
// caller's IP address: no log line holds one, docs/observability.md "Logs").
var (
	HTTPAccessLogFormat = jsonFormat(map[string]string{
		"requestId": "$context.requestId", "requestTime": "$context.requestTime",
		"httpMethod": "$context.httpMethod", "routeKey": "$context.routeKey", "status": "$context.status",
		"protocol": "$context.protocol", "responseLength": "$context.responseLength",
		"responseLatency": "$context.responseLatency", "integrationLatency": "$context.integrationLatency",
		"integrationError": "$context.integrationErrorMessage", "authorizerError": "$context.authorizer.error",
	})
	WSAccessLogFormat = jsonFormat(map[string]string{
		"requestId": "$context.requestId", "requestTime": "$context.requestTime",
		"connectionId": "$context.connectionId", "eventType": "$context.eventType", "routeKey": "$context.routeKey",
		"status": "$context.status", "error": "$context.error.message", "authorizerError": "$context.authorizer.error",
		"integrationLatency": "$context.integrationLatency",
	})
)

func jsonFormat(fields map[string]string) string {
	out, err := json.Marshal(fields) // sorted keys: a stable template
	if err != nil {
		panic(err)
	}
	return string(out)
}

// accessLogs implements awsapigatewayv2.IAccessLogSettings.
type accessLogs struct {
	dest   awsapigatewayv2.IAccessLogDestination
	format awsapigateway.AccessLogFormat
}

func (a *accessLogs) Destination() awsapigatewayv2.IAccessLogDestination { return a.dest }
func (a *accessLogs) Format() awsapigateway.AccessLogFormat              { return a.format }

func (b *builder) accessLogs(cid, name, format string) *accessLogs {
	lg := awslogs.NewLogGroup(b.st, jsii.String(cid), &awslogs.LogGroupProps{
		LogGroupName:  b.name(name),
		Retention:     b.cfg.retention(),
		RemovalPolicy: b.cfg.removal(),
	})
	return &accessLogs{dest: awsapigatewayv2.NewLogGroupLogDestination(lg), format: awsapigateway.AccessLogFormat_Custom(jsii.String(format))}
}

func (b *builder) authorizerFunction(kind topology.TriggerKind) (awslambda.Function, bool) {
	for _, ft := range b.topo.triggers(kind) {
		return b.Functions[ft.Function.Name], true
	}
	return nil, false
}

// httpAPI creates the HTTP API when the topology has routes: every route but the
// public ones goes through the Lambda authorizer (REQUEST, payload 2.0, simple
// responses); CORS admits the web app's origin (corsOrigins) with the
// topology's headers; the $default
// stage throttles and logs access.
func (b *builder) httpAPI() {
	routes := b.topo.triggers(topology.HTTPRoute)
	if len(routes) == 0 {
		return
	}
	authFn, _ := b.authorizerFunction(topology.HTTPAuthorizer)
	authorizer := awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("HttpAuthorizer"), authFn, &awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
		AuthorizerName:  b.name("http-authorizer"),
		IdentitySource:  jsii.Strings(HTTPIdentitySource),
		ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(AuthorizerCacheSeconds)),
	})
	methods := map[string]bool{}
	for _, r := range routes {
		methods[strings.ToUpper(r.Trigger.Method)] = true
	}
	cors := []awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_OPTIONS}
	for _, m := range sortedKeys(methods) {
		cors = append(cors, awsapigatewayv2.CorsHttpMethod(m))
	}
	api := awsapigatewayv2.NewHttpApi(b.st, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:            b.name("http"),
		Description:        jsii.String("Portfolio tracker HTTPS API (" + string(b.cfg.Stage) + ")"),
		CreateDefaultStage: jsii.Bool(false),
		DefaultAuthorizer:  authorizer,
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins:  b.corsOrigins(),
			AllowMethods:  &cors,
			AllowHeaders:  jsii.Strings(topology.CORSAllowHeaders...),
			ExposeHeaders: jsii.Strings(topology.CORSExposeHeaders...),
			MaxAge:        awscdk.Duration_Seconds(jsii.Number(topology.CORSMaxAge.Seconds())),
		},
	})
	b.httpAPIEndpoint = api.ApiEndpoint()
	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range routes {
		fname := r.Function.Name
		if integrations[fname] == nil {
			integrations[fname] = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("HttpIntegration"+id(fname)), b.Functions[fname],
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()})
		}
		method := strings.ToUpper(r.Trigger.Method)
		var routeAuthorizer awsapigatewayv2.IHttpRouteAuthorizer = authorizer
		public := b.topo.PublicRoutes[method+" "+r.Trigger.Path]
		if public {
			routeAuthorizer = awsapigatewayv2.NewHttpNoneAuthorizer()
		}
		added := api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Trigger.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(method)},
			Integration: integrations[fname],
			Authorizer:  routeAuthorizer,
		})
		if public {
			for _, route := range *added {
				suppress(route, "AwsSolutions-APIG4", "A public operation (topology.PublicOperations): the one-click unsubscribe link of a "+
					"notification e-mail, opened by someone not signed in; the request carries an HMAC-signed token the function verifies.")
			}
		}
	}
	// The links functions put in messages (unsubscribe) start at the API's own URL.
	for _, f := range b.topo.Functions {
		if set, ok := f.SettingByName(topology.PublicAPIURLEnvVar); ok && set.SetBy&topology.CDKStack != 0 {
			b.Functions[f.Name].AddEnvironment(jsii.String(set.Name), api.ApiEndpoint(), nil)
		}
	}
	rate, burst := Throttle(b.cfg.Stage)
	stage := awsapigatewayv2.NewHttpStage(b.st, jsii.String("HttpStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:           api,
		StageName:         jsii.String("$default"),
		AutoDeploy:        jsii.Bool(true),
		Throttle:          &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(rate), BurstLimit: jsii.Number(burst)},
		AccessLogSettings: b.accessLogs("HttpAccessLogs", "http-access", HTTPAccessLogFormat),
	})
	b.HTTPURL = stage.Url()
	awscdk.NewCfnOutput(b.st, jsii.String("HttpApiUrl"), &awscdk.CfnOutputProps{Value: stage.Url(), Description: jsii.String("the HTTPS API's base URL")})
}

// websocketAPI creates the WebSocket API when the topology has a ws-authorizer or
// WebSocket routes. Its routes come later (websocketRoutes), once the functions
// exist: functions that manage connections need the API's ID first.
func (b *builder) websocketAPI() {
	if len(b.topo.triggers(topology.WSAuthorizer, topology.WebSocketRoute)) == 0 {
		return
	}
	b.ws = awsapigatewayv2.NewWebSocketApi(b.st, jsii.String("WsApi"), &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  b.name("ws"),
		Description:              jsii.String("Portfolio tracker live updates (" + string(b.cfg.Stage) + ")"),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
}

// websocketRoutes adds one route per websocket-route trigger, and $connect with
// the authorizer. Without a declared $connect handler, $connect still exists,
// behind the authorizer, on a mock integration that accepts the connection: a
// WebSocket API without a $connect route would admit anyone.
func (b *builder) websocketRoutes() {
	if b.ws == nil {
		return
	}
	authFn, _ := b.authorizerFunction(topology.WSAuthorizer)
	authorizer := awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("WsAuthorizer"), authFn, &awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps{
		AuthorizerName: b.name("ws-authorizer"),
		IdentitySource: jsii.Strings(WSIdentitySource),
	})
	routes := map[string]string{} // route key -> function
	for _, ft := range b.topo.triggers(topology.WebSocketRoute) {
		routes[ft.Trigger.RouteKey] = ft.Function.Name
	}
	if _, ok := routes[ConnectRoute]; !ok {
		routes[ConnectRoute] = ""
	}
	keys := sortedKeys(routes)
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == ConnectRoute && keys[j] != ConnectRoute })
	for _, key := range keys {
		fname := routes[key]
		var integration awsapigatewayv2.WebSocketRouteIntegration
		if fname == "" {
			integration = awsapigatewayv2integrations.NewWebSocketMockIntegration(jsii.String("WsConnectMock"), &awsapigatewayv2integrations.WebSocketMockIntegrationProps{
				RequestTemplates:            &map[string]*string{"$default": jsii.String(`{"statusCode": 200}`)},
				TemplateSelectionExpression: jsii.String(`\$default`),
			})
		} else {
			integration = awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String("WsIntegration"+id(key)), b.Functions[fname], nil)
		}
		opts := &awsapigatewayv2.WebSocketRouteOptions{Integration: integration}
		if key == ConnectRoute {
			opts.Authorizer = authorizer
		}
		route := b.ws.AddRoute(jsii.String(key), opts)
		if key != ConnectRoute {
			suppress(route, "AwsSolutions-APIG4", "API Gateway authorizes a WebSocket connection once, on $connect (behind the Lambda authorizer); "+
				"routes of an established connection cannot have authorizers and act for the user $connect authorized.")
		}
	}
	rate, burst := Throttle(b.cfg.Stage)
	stage := awsapigatewayv2.NewWebSocketStage(b.st, jsii.String("WsStage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi:      b.ws,
		StageName:         jsii.String(string(b.cfg.Stage)),
		AutoDeploy:        jsii.Bool(true),
		Throttle:          &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(rate), BurstLimit: jsii.Number(burst)},
		AccessLogSettings: b.accessLogs("WsAccessLogs", "ws-access", WSAccessLogFormat),
	})
	if b.account != nil {
		stage.Node().AddDependency(b.account)
	}
	b.WSURL = stage.Url()
	awscdk.NewCfnOutput(b.st, jsii.String("WebSocketUrl"), &awscdk.CfnOutputProps{Value: stage.Url(), Description: jsii.String("the WebSocket URL (append ?token=<access token>)")})
}

// apiGatewayAccount sets API Gateway's CloudWatch role for the account and
// region, which WebSocket access logging needs (HTTP APIs do not). It is one
// setting per account and region, so only one stack should own it: opt in with
// -c manageApiGatewayAccount=true where it is not set yet.
func (b *builder) apiGatewayAccount() {
	if !b.cfg.ManageAPIGatewayAccount {
		return
	}
	role := awsiam.NewRole(b.st, jsii.String("ApiGatewayCloudWatchRole"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description:     jsii.String("API Gateway's account-wide role for writing access and execution logs"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AmazonAPIGatewayPushToCloudWatchLogs"))},
	})
	role.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN)
	suppress(role, "AwsSolutions-IAM4", "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for API Gateway's account-wide logging role; "+
		"API Gateway creates the log groups and streams it writes to, so their names are not known here.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
	account := awsapigateway.NewCfnAccount(b.st, jsii.String("ApiGatewayAccount"), &awsapigateway.CfnAccountProps{CloudWatchRoleArn: role.RoleArn()})
	account.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	b.account = account
}
