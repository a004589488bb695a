# The web shop's two commands: `make up` runs it on 127.0.0.1:8000, `make test`
# runs every test. Both start what they need (Postgres, RabbitMQ) themselves.

GO        ?= go
WDM_DIR   ?= .wdm
UP        := $(WDM_DIR)/bin/up
# -p 2: two cores, shared with Postgres and RabbitMQ. The end-to-end tests
# start whole stacks and kill parts of them, hence the long timeout.
TESTFLAGS ?= -count=1 -p 2 -timeout 15m
FUZZTIME  ?= 10s
PKGS      ?= ./...
# The bench and soak tools are a Go module of their own (tools/, so their
# libraries stay out of the shop's go.mod); make test runs these packages of
# it too, relative to tools/ (empty: none).
TOOLS      := tools
TOOLS_PKGS ?= ./...
# make bench: the load client against a running stack (make up), e.g.
#   make bench WORKLOAD=checkout CLIENTS=64 DURATION=20s
WDM_GATEWAY ?= http://127.0.0.1:8000
WORKLOAD    ?= flow
CLIENTS     ?= 32
DURATION    ?= 30s
BENCH_OUT   ?= $(WDM_DIR)/bench/$(WORKLOAD)
BENCH_FLAGS ?=
# make soak: the flow workload at ~70 % of capacity for SOAK_DURATION against
# a running stack (make up), e.g. make soak SOAK_DURATION=60s SOAK_RATE=100
SOAK_DURATION ?= 10m
SOAK_INTERVAL ?= 5s
SOAK_RATE     ?= 0
SOAK_FLAGS    ?=

# The real cluster (cluster/, a Go module of its own; docs/cluster.md):
# make cluster-up builds Kubernetes, Knative, CoreDNS and Traefik from their
# published sources into $(CLUSTER_CACHE) (a warm cache makes it minutes)
# and starts a single-node cluster in a network namespace; cluster-smoke
# tests it; cluster-down removes everything it made.
CLUSTER_DIR   ?= /var/lib/wdm-cluster
CLUSTER_CACHE ?= $(HOME)/.cache/wdm-cluster
CLUSTER_TOOL  := $(abspath $(WDM_DIR))/bin/wdm-cluster
CLUSTER_ENV   := WDM_CLUSTER_DIR=$(CLUSTER_DIR) WDM_CLUSTER_CACHE=$(CLUSTER_CACHE)

.PHONY: up test go-test fuzz bench soak bench-go bench-broker fmt vet clean up-binary \
	cluster-tool cluster-up cluster-down cluster-smoke cluster-unit cluster-deploy cluster-test

# Run the whole shop (installs Postgres/RabbitMQ with apt-get when missing).
up: up-binary
	exec $(UP)

# go vet, then every test against private Postgres and RabbitMQ (up
# -services-only starts them, exports WDM_TEST_PG_ADDR / WDM_TEST_AMQP_URL,
# stops them afterwards), then each fuzz target briefly. Both modules: the
# shop's and tools/; then the cluster module's unit tests (no cluster).
test: vet go-test cluster-unit fuzz

go-test: up-binary
	$(UP) -services-only -- sh -c '$(GO) test $(TESTFLAGS) $(PKGS)$(if $(TOOLS_PKGS), && $(GO) -C $(TOOLS) test $(TESTFLAGS) $(TOOLS_PKGS))'

# Every `func FuzzX` in a _test.go file, one at a time (go test -fuzz takes one
# target of one package), in the module the file belongs to (the nearest
# go.mod above it: the shop's or tools/). Go 1.26's fuzzing coordinator can
# fail a target with a bare "context deadline exceeded" as -fuzztime runs out
# (go.dev/issue/75804, fixed in 1.27): such a run, with no input written and
# no seed failing, is run once more; any other failure fails at once.
fuzz:
	@set -e; for file in $$(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=.wdm --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]*\(' .); do \
		dir=$$(dirname $$file); mod=$$dir; \
		while [ ! -f $$mod/go.mod ]; do mod=$$(dirname $$mod); done; \
		pkg=.$${dir#$$mod}; \
		for target in $$(grep -oE '^func Fuzz[A-Za-z0-9_]*' $$file | cut -d' ' -f2); do \
			echo "fuzz $$target in $$dir for $(FUZZTIME)"; \
			if out=$$($(GO) -C $$mod test -run=NONE -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1); then \
				echo "$$out"; continue; \
			fi; \
			echo "$$out"; \
			case "$$out" in *"Failing input written"*|*"seed corpus"*) exit 1;; *"context deadline exceeded"*) ;; *) exit 1;; esac; \
			echo "fuzz $$target: the deadline race of go.dev/issue/75804, not a finding; once more"; \
			$(GO) -C $$mod test -run=NONE -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

# The load client (tools/cmd/bench) against the stack at $(WDM_GATEWAY): progress
# every second, a report, $(BENCH_OUT)/summary.json and chart.svg; fails on an
# unexpected failure or an inconsistent audit. Other flags: BENCH_FLAGS.
bench:
	@$(GO) -C $(TOOLS) build -o $(abspath $(WDM_DIR))/bin/bench ./cmd/bench
	$(WDM_DIR)/bin/bench -workload $(WORKLOAD) -clients $(CLIENTS) -duration $(DURATION) \
		-gateway $(WDM_GATEWAY) -out $(BENCH_OUT) $(BENCH_FLAGS)

# The sustained run (tools/cmd/soak) against the stack `make up` runs with the same
# WDM_DIR: measures capacity unless SOAK_RATE (flows/s) is set, then paces
# the flow workload at 70 % of it, samples every SOAK_INTERVAL, fails when
# memory, goroutines, connections or queues crept up or a dead letter
# appeared; $(WDM_DIR)/soak/summary.json. Other flags: SOAK_FLAGS.
soak:
	@$(GO) -C $(TOOLS) build -o $(abspath $(WDM_DIR))/bin/soak ./cmd/soak
	$(WDM_DIR)/bin/soak -dir $(WDM_DIR) -duration $(SOAK_DURATION) -interval $(SOAK_INTERVAL) \
		-rate $(SOAK_RATE) -out $(WDM_DIR)/soak $(SOAK_FLAGS)

# Go benchmarks of every package, against the same private servers as tests.
bench-go: up-binary
	$(UP) -services-only -- $(GO) test -run=NONE -bench=. -benchmem -count=1 -timeout 30m $(PKGS)

# The broker's benchmarks alone (publish/dispatch throughput over RabbitMQ).
bench-broker: up-binary
	$(UP) -services-only -- $(GO) test -run=NONE -bench=. -benchtime=20000x -benchmem -count=1 -timeout 30m ./broker/...

fmt:
	gofmt -l -w $$(find . -name '*.go' -not -path './.git/*' -not -path './.wdm/*')

vet:
	$(GO) vet ./...
	$(GO) -C $(TOOLS) vet ./...
	$(GO) -C cluster vet ./...
	# The tests against a running cluster compile here, so they cannot rot.
	$(GO) -C cluster vet -tags clustersmoke,clustershop ./smoke/ ./shop/

# Removes the local stack's state: data of the private servers, binaries, logs.
clean:
	rm -rf $(WDM_DIR)

up-binary:
	@$(GO) build -o $(UP) ./cmd/up

cluster-tool:
	@cd cluster && $(GO) build -o $(CLUSTER_TOOL) ./cmd/wdm-cluster

cluster-up: cluster-tool
	cd cluster && $(CLUSTER_ENV) $(CLUSTER_TOOL) up

cluster-down: cluster-tool
	cd cluster && $(CLUSTER_ENV) $(CLUSTER_TOOL) down

# The shop onto the running cluster: knative/deploy.sh with the local
# overlay, the images built into the cluster's containerd by wdm-cluster.
cluster-deploy: cluster-tool
	$(CLUSTER_ENV) KO="$(CLUSTER_TOOL) ko" KO_DOCKER_REPO=dev.local/webshop \
		EXTRA_IMAGES="dev.local/wdm/postgres=$$($(CLUSTER_ENV) $(CLUSTER_TOOL) postgres-image)" \
		KUBECTL="$$(sed -n 's/.*"kubectl": "\(.*\)".*/\1/p' $(CLUSTER_DIR)/cluster.json)" \
		KUBECONFIG=$(CLUSTER_DIR)/kubeconfig.yaml knative/deploy.sh local

# The smoke test against the running cluster (make cluster-up first); it
# fails, never skips, when there is none.
cluster-smoke:
	cd cluster && $(CLUSTER_ENV) $(GO) test -tags clustersmoke -count=1 -v -timeout 30m ./smoke/

# The shop on the running cluster (make cluster-up cluster-deploy first);
# fails, never skips, without it.
cluster-test:
	@command -v locust >/dev/null || { echo "installing python3-locust (the load test runs the project's locustfile)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-locust; }
	cd cluster && $(CLUSTER_ENV) $(GO) test -tags clustershop -count=1 -v -timeout 90m ./shop/

# The cluster module's fast unit tests (rendering, image assembly): no cluster.
cluster-unit:
	cd cluster && $(GO) test -count=1 ./...
