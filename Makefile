# hopwire — make targets. `make test` is what CI runs.
GO        ?= go
FUZZTIME  ?= 200000x
BENCHTIME ?= 200ms
COUNT     ?= 1

.PHONY: all build test bench bench-go bench-smoke fuzz lint tidy

all: build test

build:
	$(GO) build ./...
	$(GO) build -o bin/ ./cmd/...

# The race detector allocates, so the zero-allocation tests skip under it:
# the second run is theirs (and a check that nothing depends on -race).
# hopwire_checks turns on wire's use-after-release checks (wire/own.go),
# which production builds leave out.
TESTTAGS ?= hopwire_checks
test:
	$(GO) vet ./...
	$(GO) test -race -tags $(TESTTAGS) -timeout 15m ./...
	$(GO) test -tags $(TESTTAGS) -timeout 10m ./...

# The benchmark suite: every scenario beside its baseline in the same run,
# quick by default (under a minute on 2 cores). A longer run, a report and
# a picture: make bench BENCHFLAGS='--full --json bench.json --plot bench.svg'
BENCHFLAGS ?=
bench:
	$(GO) run ./cmd/hopbench $(BENCHFLAGS)

# Every in-package Go benchmark. For benchstat: make bench-go BENCHTIME=1s COUNT=6
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(COUNT) ./...

# One short run of every benchmark, so none rots.
bench-smoke:
	$(GO) test -short -run '^$$' -bench . -benchtime 100x ./...

# A short smoke of every fuzz target. The budget is a count of inputs
# (Nx), not a duration: Go 1.26's fuzz coordinator can fail a duration run
# at its deadline with "context deadline exceeded" and no crasher
# (golang/go#75804, fixed in 1.27), which a count never meets.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -tags $(TESTTAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo 'gofmt: files above need formatting' && exit 1)
	$(GO) vet ./...

tidy:
	$(GO) mod tidy
