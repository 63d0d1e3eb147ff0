package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
)

// resourceOf is the one resource of a type (the test fails without exactly one).
func (s *synthesized) resourceOf(t *testing.T, name, typ string) (string, resource) {
	t.Helper()
	ids := s.ofType(typ)
	if len(ids) != 1 {
		t.Fatalf("%s: %d %s, want 1", name, len(ids), typ)
	}
	return ids[0], s.res[ids[0]]
}

// TestWebBucketIsPrivateEncryptedAndReadByCloudFrontAlone: every public access
// blocked, encryption at rest, TLS enforced, and one reader: CloudFront, for
// this distribution (origin access control, signed requests).
func TestWebBucketIsPrivateEncryptedAndReadByCloudFrontAlone(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		bucketID, bucket := s.resourceOf(t, name, "AWS::S3::Bucket")
		distID, dist := s.resourceOf(t, name, "AWS::CloudFront::Distribution")
		block := obj(bucket.Properties["PublicAccessBlockConfiguration"])
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if block[k] != true {
				t.Errorf("%s: %s is not set: %v", name, k, block)
			}
		}
		if fmt.Sprint(bucket.Properties["BucketEncryption"]) == "" || !strings.Contains(fmt.Sprint(bucket.Properties["BucketEncryption"]), "AES256") {
			t.Errorf("%s: bucket encryption %v", name, bucket.Properties["BucketEncryption"])
		}
		if want := map[stack.Stage]string{stack.Dev: "Delete", stack.Prod: "Retain"}[s.cfg.Stage]; bucket.DeletionPolicy != want {
			t.Errorf("%s: the bucket's deletion policy is %q, want %q", name, bucket.DeletionPolicy, want)
		}
		_, policy := s.resourceOf(t, name, "AWS::S3::BucketPolicy")
		var tls, cloudfront bool
		for _, st := range list(obj(policy.Properties["PolicyDocument"])["Statement"]) {
			st := obj(st)
			switch {
			case st["Effect"] == "Deny" && fmt.Sprint(obj(obj(st["Condition"])["Bool"])["aws:SecureTransport"]) == "false":
				tls = true
			case st["Effect"] == "Allow":
				src := fmt.Sprint(obj(obj(st["Condition"])["StringEquals"])["AWS:SourceArn"])
				if obj(st["Principal"])["Service"] != "cloudfront.amazonaws.com" || st["Action"] != "s3:GetObject" || !strings.Contains(src, distID) {
					t.Errorf("%s: the bucket policy allows %v", name, st)
				}
				cloudfront = true
			}
		}
		if !tls || !cloudfront {
			t.Errorf("%s: bucket policy: TLS enforced %v, CloudFront's read %v", name, tls, cloudfront)
		}
		origins := list(obj(dist.Properties["DistributionConfig"])["Origins"])
		oacID, oac := s.resourceOf(t, name, "AWS::CloudFront::OriginAccessControl")
		if len(origins) != 1 || !slices.Contains(refsIn(obj(origins[0])["DomainName"]), bucketID) ||
			!slices.Contains(refsIn(obj(origins[0])["OriginAccessControlId"]), oacID) {
			t.Errorf("%s: origins %v", name, origins)
		}
		if c := obj(oac.Properties["OriginAccessControlConfig"]); c["SigningBehavior"] != "always" || c["SigningProtocol"] != "sigv4" || c["OriginAccessControlOriginType"] != "s3" {
			t.Errorf("%s: origin access control %v", name, c)
		}
	}
}

// TestWebDistributionServesTheExport: HTTPS only, index.html at the root, the
// export's 404 page for a missing key (S3's 403), compression, the rewrite
// function on viewer requests and the security headers on every answer.
func TestWebDistributionServesTheExport(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		_, dist := s.resourceOf(t, name, "AWS::CloudFront::Distribution")
		fnID, fn := s.resourceOf(t, name, "AWS::CloudFront::Function")
		headersID, _ := s.resourceOf(t, name, "AWS::CloudFront::ResponseHeadersPolicy")
		c := obj(dist.Properties["DistributionConfig"])
		b := obj(c["DefaultCacheBehavior"])
		if c["DefaultRootObject"] != "index.html" || b["ViewerProtocolPolicy"] != "redirect-to-https" || b["Compress"] != true {
			t.Errorf("%s: distribution %v", name, c)
		}
		if r, _ := ref(b["ResponseHeadersPolicyId"]); r != headersID {
			t.Errorf("%s: the default behavior's headers policy is %v", name, b["ResponseHeadersPolicyId"])
		}
		assoc := list(b["FunctionAssociations"])
		if len(assoc) != 1 || obj(assoc[0])["EventType"] != "viewer-request" || !slices.Contains(refsIn(obj(assoc[0])["FunctionARN"]), fnID) {
			t.Errorf("%s: function associations %v", name, assoc)
		}
		errs := map[float64]string{}
		for _, e := range list(c["CustomErrorResponses"]) {
			e := obj(e)
			errs[num(e["ErrorCode"])] = fmt.Sprint(e["ResponseCode"], " ", e["ResponsePagePath"])
		}
		if errs[403] != "404 /404.html" || errs[404] != "404 /404.html" {
			t.Errorf("%s: error responses %v", name, errs)
		}
		fc := obj(fn.Properties["FunctionConfig"])
		if fc["Runtime"] != "cloudfront-js-2.0" || fn.Properties["FunctionCode"] != stack.WebRewriteFunction || fn.Properties["AutoPublish"] != true {
			t.Errorf("%s: rewrite function %v", name, fn.Properties)
		}
		if !strings.HasPrefix(fmt.Sprint(fn.Properties["Name"]), s.prefix()) {
			t.Errorf("%s: the rewrite function is named %v", name, fn.Properties["Name"])
		}
		if out := obj(obj(s.json["Outputs"])["WebUrl"]); !strings.Contains(fmt.Sprint(out["Value"]), "https://") {
			t.Errorf("%s: no WebUrl output: %v", name, out)
		}
	}
}

// TestWebRewriteFunctionMapsPagesToTheirFiles runs the CloudFront Function's
// code in Node (the local stand-in of CloudFront's JavaScript runtime):
// directories and extension-less paths get their index.html, files pass.
func TestWebRewriteFunctionMapsPagesToTheirFiles(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	cases := map[string]string{
		"/": "/index.html", "/portfolio/": "/portfolio/index.html", "/portfolio": "/portfolio/index.html",
		"/portfolio/transactions/": "/portfolio/transactions/index.html", "/sign-in": "/sign-in/index.html",
		"/config.json": "/config.json", "/_next/static/chunks/app-0123.js": "/_next/static/chunks/app-0123.js",
		"/404.html": "/404.html", "/favicon.ico": "/favicon.ico", "/v1.2/page": "/v1.2/page/index.html",
	}
	var uris []string
	for in := range cases {
		uris = append(uris, in)
	}
	slices.Sort(uris)
	in, _ := json.Marshal(uris)
	script := stack.WebRewriteFunction + `
const out = {};
for (const uri of ` + string(in) + `) { out[uri] = handler({request: {uri: uri, querystring: {}}}).uri; }
console.log(JSON.stringify(out));`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := exec.CommandContext(ctx, node, "-e", script).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("node printed %q: %v", raw, err)
	}
	for in, want := range cases {
		if got[in] != want {
			t.Errorf("%s → %s, want %s", in, got[in], want)
		}
	}
}

// TestWebSecurityHeaders: HSTS (two years, subdomains), nosniff, frame DENY, a
// referrer policy, and a strict CSP: default-src 'self', no 'unsafe-eval', no
// framing, and connect-src naming only the API, the WebSocket API and Supabase
// (the HTTP API exactly when frontendOrigin is given; by the region's
// execute-api hosts when its CORS names the distribution).
func TestWebSecurityHeaders(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		_, rhp := s.resourceOf(t, name, "AWS::CloudFront::ResponseHeadersPolicy")
		sec := obj(obj(rhp.Properties["ResponseHeadersPolicyConfig"])["SecurityHeadersConfig"])
		hsts := obj(sec["StrictTransportSecurity"])
		if num(hsts["AccessControlMaxAgeSec"]) != stack.HSTSMaxAge || hsts["IncludeSubdomains"] != true || hsts["Override"] != true {
			t.Errorf("%s: HSTS %v", name, hsts)
		}
		if obj(sec["ContentTypeOptions"])["Override"] != true || obj(sec["FrameOptions"])["FrameOption"] != "DENY" ||
			obj(sec["ReferrerPolicy"])["ReferrerPolicy"] != "strict-origin-when-cross-origin" {
			t.Errorf("%s: security headers %v", name, sec)
		}
		csp := obj(sec["ContentSecurityPolicy"])
		raw, _ := json.Marshal(csp["ContentSecurityPolicy"])
		text := string(raw)
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'unsafe-inline'", "object-src 'none'", "frame-ancestors 'none'", "connect-src 'self' ", testSupabaseURL} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the CSP lacks %q: %s", name, want, text)
			}
		}
		if strings.Contains(text, "unsafe-eval") || strings.Contains(text, "default-src *") || strings.Contains(text, " * ") {
			t.Errorf("%s: the CSP is not strict: %s", name, text)
		}
		apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
		httpAPI, wsAPI := keyOf(apis, "http"), keyOf(apis, "ws")
		if !strings.Contains(text, `"Fn::GetAtt":["`+wsAPI+`","ApiEndpoint"]`) {
			t.Errorf("%s: the CSP does not name the WebSocket API %s: %s", name, wsAPI, text)
		}
		namesHTTP := strings.Contains(text, `"Fn::GetAtt":["`+httpAPI+`","ApiEndpoint"]`)
		if s.cfg.FrontendOrigin != "" && !namesHTTP {
			t.Errorf("%s: with a frontendOrigin, the CSP names the HTTP API exactly: %s", name, text)
		}
		if s.cfg.FrontendOrigin == "" && (namesHTTP || !strings.Contains(text, "https://*.execute-api.")) {
			t.Errorf("%s: without a frontendOrigin the CSP names the region's execute-api hosts, not the API (a cycle): %s", name, text)
		}
	}
}

// TestWebDeployments: the hashed assets cached for a year and kept, the pages
// revalidated and pruned (invalidating the distribution), config.json never
// cached and written from the stack's own URLs and the configuration.
func TestWebDeployments(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
		bucketID, _ := s.resourceOf(t, name, "AWS::S3::Bucket")
		got := map[string]string{}
		for _, id := range s.ofType("Custom::CDKBucketDeployment") {
			p := s.res[id].Properties
			if d, _ := ref(p["DestinationBucketName"]); d != bucketID {
				t.Errorf("%s: %s deploys to %v", name, id, p["DestinationBucketName"])
			}
			if want := s.cfg.Stage == stack.Prod; p["RetainOnDelete"] != want {
				t.Errorf("%s: %s retains its files on delete: %v, want %v", name, id, p["RetainOnDelete"], want)
			}
			got[fmt.Sprint(strs(p["Include"]))+" "+fmt.Sprint(strs(p["Exclude"]))] = fmt.Sprint(obj(p["SystemMetadata"])["cache-control"], " prune=", p["Prune"], " ", strs(p["DistributionPaths"]))
			if slices.Contains(strs(p["Include"]), stack.WebConfigFile) {
				markers, _ := json.Marshal(p["SourceMarkers"])
				if m := string(markers); !strings.Contains(m, keyOf(apis, "http")) || !strings.Contains(m, keyOf(apis, "ws")) {
					t.Errorf("%s: config.json's deploy-time values %s do not name both APIs", name, markers)
				}
			}
		}
		want := map[string]string{
			"[_next/static/*] [*]":            "public, max-age=31536000, immutable prune=false []",
			"[] [_next/static/* config.json]": "public, max-age=0, must-revalidate prune=true [/*]",
			"[config.json] [*]":               "no-cache prune=false [/config.json]",
		}
		if !jsonEqual(got, want) {
			t.Errorf("%s: deployments\n got %v\nwant %v", name, got, want)
		}
	}
}

// TestWebConfigJSON: config.json as the config deployment copies it: the
// configuration's Supabase URL, anon key and stage, and the API URLs as
// deploy-time values (markers the deployment replaces with the HTTP API's
// endpoint and the WebSocket stage's URL), the fields the web app reads.
func TestWebConfigJSON(t *testing.T) {
	s := fixture(t, "prod")
	apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
	for _, id := range s.ofType("Custom::CDKBucketDeployment") {
		p := s.res[id].Properties
		if !slices.Contains(strs(p["Include"]), stack.WebConfigFile) {
			continue
		}
		raw := s.webConfig
		var cfg map[string]string
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatalf("config.json %s: %v", raw, err)
		}
		markers := obj(list(p["SourceMarkers"])[0])
		apiOf := func(field string) string { // the API whose ID a field's first marker stands for
			for m, v := range markers {
				if strings.Contains(cfg[field], m) {
					id, _ := ref(v)
					if apis[id] != "" {
						return apis[id]
					}
				}
			}
			return ""
		}
		if len(cfg) != 5 || cfg["supabaseUrl"] != testSupabaseURL || cfg["supabaseAnonKey"] != testAnonKey || cfg["stage"] != "prod" ||
			!strings.HasPrefix(cfg["wsUrl"], "wss://") || !strings.HasSuffix(cfg["wsUrl"], "/prod") || apiOf("apiUrl") != "http" || apiOf("wsUrl") != "ws" {
			t.Errorf("config.json %s (markers %v)", raw, markers)
		}
		// apiUrl is the HTTP API's endpoint (https://..., no trailing slash: the $default stage) and nothing else.
		if _, attr := ref(markers[cfg["apiUrl"]]); attr != "ApiEndpoint" {
			t.Errorf("config.json %s (markers %v)", raw, markers)
		}
		return
	}
	t.Fatal("no deployment of config.json")
}

// TestWebDeploymentProviderReachesOnlyTheSite: the CDK's bucket deployment
// function (not ours, exempt from the wildcard rule) may touch the CDK's asset
// bucket and the site's bucket, and invalidate (CloudFront has no narrower
// resource for it), nothing else.
func TestWebDeploymentProviderReachesOnlyTheSite(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		bucketID, _ := s.resourceOf(t, name, "AWS::S3::Bucket")
		seen := 0
		for _, st := range s.statements() {
			if !slices.ContainsFunc(st.roles, isDeploymentProvider) {
				continue
			}
			seen++
			actions := strs(st.body["Action"])
			res := fmt.Sprint(st.body["Resource"])
			switch {
			case allIn(actions, []string{"cloudfront:GetInvalidation", "cloudfront:CreateInvalidation"}):
			case allS3(actions) && (strings.Contains(res, "cdk-hnb659fds-assets-") || (slices.Contains(refsIn(st.body["Resource"]), bucketID) && len(refsIn(st.body["Resource"])) == 2)):
			case allIn(actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"}):
			default:
				t.Errorf("%s: the bucket deployment function may %v on %v", name, actions, st.body["Resource"])
			}
		}
		if seen == 0 {
			t.Errorf("%s: no statement of the bucket deployment function found", name)
		}
	}
}

func allS3(actions []string) bool {
	for _, a := range actions {
		if !strings.HasPrefix(a, "s3:") {
			return false
		}
	}
	return len(actions) > 0
}

// TestNewRefusesAnUnbuiltWebApp: a directory without index.html (web/out
// before make web) is refused, naming the build; the placeholder is accepted.
func TestNewRefusesAnUnbuiltWebApp(t *testing.T) {
	empty := t.TempDir()
	_, err := stack.New(awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())}),
		stack.Props{Config: config(stack.Dev), Topology: stack.FromPackage(), Code: prebuilt(t), WebDir: empty})
	if err == nil || !strings.Contains(err.Error(), "make web") {
		t.Errorf("an empty web app directory: %v", err)
	}
	placeholder := t.TempDir()
	if err := stack.WebPlaceholder(placeholder); err != nil {
		t.Fatal(err)
	}
	if err := stack.CheckWebDir(placeholder); err != nil {
		t.Errorf("the placeholder: %v", err)
	}
}
