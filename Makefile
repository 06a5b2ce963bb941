# tempstream: `make test` is the whole suite (what .ci/run calls).
GO ?= go
FUZZTIME ?= 10s

.PHONY: test test-deps fmt-check vet race fuzz run bench

test: test-deps fmt-check vet race fuzz

# Debian's chromium (and a font) for the browser test, cmd/tempstream/browser_test.go.
test-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
	fi

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 -timeout 8m ./...

# A short coverage-guided run of each fuzzer; corpora live in testdata/fuzz.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzEncodeParse$$' -fuzztime=$(FUZZTIME) ./pkg/sse
	$(GO) test -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME) ./pkg/sse
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./pkg/reading

run:
	$(GO) run ./cmd/tempstream

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./pkg/sse
