# techledger build and test targets. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS ?= ./...
# Benchmarks: make bench BENCH=. BENCHTIME=2s
BENCH ?= .
BENCHTIME ?= 1s
# Crash soak: make crash-soak CYCLES=100 [SEED=n].
# Fuzzing: make fuzz (every target for FUZZSHORT), make fuzz-long (every target for FUZZTIME, a
# duration: a count such as 10000000x leaves workers idle as it nears its end, because Go's
# coordinator reserves count/parallel execs for every batch it hands out; docs/reliability.md).
# FUZZMIN bounds Go's minimisation of each new interesting input (60 s by default, during
# which the fuzzer runs nothing else: with inputs of a few kilobytes that stalls a run).
# Storage-fault simulation: make soak SEEDS=5000 (make test runs 300 seeds).
CYCLES ?= 100
SEEDS ?= 2000
SEED ?=
FUZZTIME ?= 1h
FUZZSHORT ?= 20s
FUZZMIN ?= 1s

.PHONY: test lint fmt vet bench fuzz fuzz-long crash-soak soak demo

## test: formatting check, vet, and every test with the race detector.
test: lint
	$(GO) test -race -count=1 $(PKGS)

## lint: gofmt must print nothing; go vet must be clean.
lint: fmt vet

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## bench: the ledger benchmarks (durable appends vs raw baselines, scans).
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) $(PKGS)

## fuzz: a short run of every fuzz target (FUZZSHORT each).
fuzz:
	@$(MAKE) --no-print-directory fuzz-long FUZZTIME=$(FUZZSHORT)

## fuzz-long: every fuzz target of every package for FUZZTIME, one after another (it finds
## them by name, so a new target needs no edit here); a failing target does not stop the
## others, and the failures are listed at the end (docs/reliability.md).
fuzz-long:
	@failed=""; for pkg in $$($(GO) list $(PKGS)); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			echo "== $$t ($$pkg, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMIN) $$pkg || failed="$$failed $$t"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "FAIL:$$failed"; exit 1; fi

## crash-soak: CYCLES kill -9 cycles of serve under 16 posting clients on one data directory
## (docs/reliability.md); `make test` runs 3.
crash-soak:
	TECHLEDGER_CRASH_CYCLES=$(CYCLES) TECHLEDGER_CRASH_SEED=$(SEED) $(GO) test -count=1 -timeout 0 -v \
		-run '^TestBlackbox_KillAndRestart$$' ./cmd/techledger/

## soak: SEEDS seeded scenarios of the filestore on the fault-injecting file system
## (docs/reliability.md); one seed: TECHLEDGER_SIM_SEED=n.
soak:
	TECHLEDGER_SIM_SEEDS=$(SEEDS) $(GO) test -count=1 -timeout 0 -v -run '^TestSimulation$$' ./ledger/filestore/

## demo: the embedded store loaded with sample data, served over HTTP.
demo:
	$(GO) run ./cmd/techledger serve --demo
