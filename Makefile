# Harden: the two commands a fresh Debian 12 machine needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps build release install test fuzz demo bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

# The Swift runtime and Foundation are linked in (--static-swift-stdlib): harden starts in 10 ms
# instead of 39 (no dynamic symbol binding across 50 libraries) and runs on a host without Swift.
release: deps
	$(SWIFT) build -c release --product harden --static-swift-stdlib

# harden on PATH (PREFIX=/usr/local), with the tools it runs (skopeo, runc, ...) installed.
PREFIX ?= /usr/local
install: release
	install -D -m 0755 .build/release/harden $(DESTDIR)$(PREFIX)/bin/harden

# Installs what the tests need, builds, and runs every test (unit, interop with real tools).
# Then every fuzz target runs FUZZ_SECONDS (default 20) under libFuzzer, two at a time; 0 skips it.
FUZZ_SECONDS ?= 20
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test
	@if [ "$(FUZZ_SECONDS)" != 0 ]; then FUZZ_JOBS=2 bash scripts/fuzz all $(FUZZ_SECONDS); fi

# Every fuzz target for FUZZ_SECONDS each (e.g. make fuzz FUZZ_SECONDS=600).
fuzz:
	FUZZ_JOBS=2 bash scripts/fuzz all $(FUZZ_SECONDS)

# The main job, end to end: a hardened image built from Debian packages into out/store.
demo: release
	bash scripts/demo.sh

# Throughput figures against gzip, zstd and sha256sum (see Benchmarks/README.md).
bench: deps
	$(SWIFT) build -c release --product HardenBench
	$(SWIFT) build -c release --product harden --static-swift-stdlib
	.build/release/HardenBench

clean:
	rm -rf .build out
