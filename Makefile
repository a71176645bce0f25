# fleetd — build, test and demo entry points. `make help` lists them.

GO      ?= go
BIN     ?= ./bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION) -X github.com/fleetd/fleetd/cmd/fleetctl/internal/cli.Version=$(VERSION)

# Packages whose tests run a second time under the race detector. The whole
# tree under -race is too slow on a 2-core machine; list the small packages
# with real concurrency here.
RACE_PKGS ?= ./pkg/api/... ./internal/apiserver/... ./cmd/fleetctl/... ./pkg/notify/... ./pkg/sweep/...

# Benchmarks: each is a target named bench-<what>, listed here; `make bench`
# runs them all. Add yours to this list and define the target below.
BENCHES := bench-go bench-p1 bench-latency bench-p4 bench-p2 bench-replicas bench-sim

.PHONY: help build test test-race test-long test-console bench $(BENCHES) demo demo-stop lint fmt clean

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

build: ## build fleetd, fleetctl and ftdsim into ./bin
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

test: ## go vet + unit and integration tests (needs PostgreSQL: TEST_DATABASE_URL)
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory test-race

test-race: ## the RACE_PKGS tests under the race detector
	$(GO) test -count=1 -race $(RACE_PKGS)

CONSOLE_SHOTS ?= $(CURDIR)/.console-shots

test-console: ## the web console in headless Chromium; keeps a screenshot of each page under CONSOLE_SHOTS
	@mkdir -p $(CONSOLE_SHOTS)
	$(GO) test -count=1 -run TestConsoleInABrowser -artifacts -outputdir $(CONSOLE_SHOTS) ./e2e/
	@echo "screenshots: $$(ls -d $(CONSOLE_SHOTS)/_artifacts/*/ | tail -n 1)"

test-long: ## slow suites (build tag long): reliability, scale
	$(GO) test -count=1 -tags long -timeout 60m ./...

bench: $(BENCHES) ## every benchmark in BENCHES

bench-go: ## Go micro-benchmarks (go test -bench)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

bench-p1: ## P1: fleetctl diagnose --all over 10,000 simulated FTDs, end to end (scripts/bench-p1.sh)
	./scripts/bench-p1.sh $(BENCH_DEVICES)

bench-latency: ## real device latencies with fleetd's defaults: time scale 1 vs 0.1, peak RSS (scripts/bench-latency.sh)
	./scripts/bench-latency.sh $(BENCH_DEVICES)

bench-p4: ## P4 with history: status and runs show over 10,000 devices with 30 nightly runs in the database; storage, retention (scripts/bench-p4.sh)
	./scripts/bench-p4.sh $(BENCH_DEVICES)

BENCH_P2_DEVICES ?= 2000

bench-p2: ## P2: fleetd vs Ansible raw vs parallel-ssh on one exec-mode fleet of BENCH_P2_DEVICES (2,000; scripts/bench-p2.sh)
	./scripts/bench-p2.sh $(BENCH_P2_DEVICES)

bench-sim: ## ftdsim's CPU per diagnose session against ftdsim before issue 15 (FTDSIM_BASE), same run (scripts/bench-sim.sh)
	./scripts/bench-sim.sh $(BENCH_SIM_DEVICES)

bench-replicas: ## one vs two fleetd replicas sharing a 10,000-device run (scripts/bench-replicas.sh)
	./scripts/bench-replicas.sh

demo: ## start PostgreSQL, fleetd and a demo inventory (see scripts/demo.sh)
	./scripts/demo.sh

demo-stop: ## stop the fleetd started by make demo
	./scripts/demo.sh stop

lint: ## gofmt and go vet (and staticcheck when installed)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed; skipped"; fi

fmt: ## gofmt -w
	gofmt -w $$(find . -name '*.go' -not -path './.git/*')

clean: ## remove build and demo output
	rm -rf $(BIN) .demo .console-shots
