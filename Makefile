# techledger build and test targets. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS ?= ./...
# Benchmarks: make bench BENCH=. BENCHTIME=2s
BENCH ?= .
BENCHTIME ?= 1s
# Crash soak: make crash-soak CYCLES=100 [SEED=n]; long fuzzing: make fuzz-long FUZZTIME=10m.
# Storage-fault simulation: make soak SEEDS=5000 (make test runs 200 seeds).
CYCLES ?= 100
SEEDS ?= 2000
SEED ?=
FUZZTIME ?= 60s

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

## fuzz: a short run of every fuzz target.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecord_UnmarshalBinary$$' -fuzztime 30s ./ledger/
	$(GO) test -run '^$$' -fuzz '^FuzzEncode_PaymentRecorded$$' -fuzztime 30s ./ledger/
	$(GO) test -run '^$$' -fuzz '^FuzzRawRecord_UnmarshalBinary$$' -fuzztime 30s ./ledger/
	$(GO) test -run '^$$' -fuzz '^FuzzString$$' -fuzztime 30s ./internal/jsonw/
	$(GO) test -run '^$$' -fuzz '^FuzzScanner$$' -fuzztime 30s ./internal/jsonscan/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./commands/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFast$$' -fuzztime 30s ./commands/
	$(GO) test -run '^$$' -fuzz '^FuzzFingerprint$$' -fuzztime 30s ./commands/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeView$$' -fuzztime 30s ./projections/
	$(GO) test -run '^$$' -fuzz '^FuzzReadCheckpoint$$' -fuzztime 30s ./ledger/filestore/
	$(GO) test -run '^$$' -fuzz '^FuzzQueryUint$$' -fuzztime 30s ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzRoutePathValue$$' -fuzztime 30s ./server/

## fuzz-long: every fuzz target for FUZZTIME, one after another (docs/reliability.md).
fuzz-long:
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			echo "== $$t ($$pkg, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

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
