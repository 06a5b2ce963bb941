# tempstream: `make test` is the whole suite (what .ci/run calls).
GO ?= go
FUZZTIME ?= 10s

.PHONY: test test-deps test-deps-proxies fmt-check vet cross race fuzz run bench

test: test-deps test-deps-proxies fmt-check vet cross race fuzz

# Debian's chromium (and a font) for the browser test, cmd/tempstream/browser_test.go.
test-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
	fi

# Debian's nginx, haproxy and squid (and curl) for the proxy tests, test/proxy.
# The tests start their own instances on free loopback ports; the packages'
# services (ports 80, 3128) are not used.
test-deps-proxies:
	@missing=""; \
	for p in nginx haproxy squid curl; do \
		command -v $$p >/dev/null 2>&1 || [ -x /usr/sbin/$$p ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's$$missing for the proxy tests"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing; \
	fi

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Builds everywhere Go does: the Linux-only parts (epoll, direct descriptor
# writes, process groups) sit behind build tags with portable fallbacks.
cross:
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) vet ./...

# The browser tests first, alone on the machine: TestBrowserSensors checks
# that the page has no main-thread task of 100 ms or more, which is wall
# time, so the other packages' tests (proxies, load) must not share the two
# cores with it. Then everything else, packages in parallel.
race:
	$(GO) test -race -count=1 -timeout 4m -run '^TestBrowser' ./cmd/tempstream
	$(GO) test -race -count=1 -timeout 8m -skip '^TestBrowser' ./...

# A short coverage-guided run of each fuzzer; corpora live in testdata/fuzz.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzEncodeParse$$' -fuzztime=$(FUZZTIME) ./pkg/sse
	$(GO) test -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME) ./pkg/sse
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./pkg/reading

run:
	$(GO) run ./cmd/tempstream

# Quick benchmarks (under 3 minutes): the engine's Go benchmarks, the load
# tool's parsers, and 500 subscribers at 100 readings a second for 10 s against
# the floor, tempstream and r3labs/sse/v2 (bench/run.sh; the full scenarios are
# bench/run.sh a|b|c|d, see BENCHMARKS.md).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./pkg/sse
	$(GO) test -run='^$$' -bench=Parse -benchmem ./cmd/ssebench
	bench/run.sh quick
