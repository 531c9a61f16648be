# bannin — the two commands: `make demo` and `make test`.
GO ?= go
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: demo build test test-pg lint fuzz bench

demo:            ## play the attack story on the embedded store and exit
	$(GO) run ./cmd/bannin demo --once

build:
	$(GO) build -o bannin ./cmd/bannin

test:            ## every test, with the race detector; PostgreSQL too when BANNIN_TEST_PG is set
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

test-pg:         ## the whole suite with PostgreSQL enabled
	BANNIN_TEST_PG='$(PG_URL)' $(GO) test -race -count=1 ./...

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal)" || (gofmt -l cmd internal; exit 1)

fuzz:            ## run every fuzz target for FUZZTIME each (default 30s)
	$(GO) test ./internal/connector/crowdstrike -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-30s}
	$(GO) test ./internal/connector -run '^$$' -fuzz FuzzSplit -fuzztime $${FUZZTIME:-30s}
	$(GO) test ./internal/intake -run '^$$' -fuzz FuzzWebhook -fuzztime $${FUZZTIME:-30s}
	$(GO) test ./internal/tenant -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-30s}

bench:           ## whole-pipeline figures on this machine (see docs/BENCHMARKS.md)
	$(GO) run ./cmd/bannin bench ingest --store sqlite --alerts 20000
	$(GO) run ./cmd/bannin bench ingest --store postgres --alerts 20000 --pg-url '$(PG_URL)'
