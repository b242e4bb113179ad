# techledger build and test targets. `make test` is what CI runs (.ci/run).
GO ?= go
PKGS ?= ./...
# Benchmarks: make bench BENCH=. BENCHTIME=2s
BENCH ?= .
BENCHTIME ?= 1s

.PHONY: test lint fmt vet bench fuzz demo

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

## demo: the embedded store loaded with sample data, served over HTTP.
demo:
	$(GO) run ./cmd/techledger serve --demo
