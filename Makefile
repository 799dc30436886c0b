# Harden: the two commands a fresh Debian 12 machine needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps build release install test demo bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product harden

# harden on PATH (PREFIX=/usr/local), with the tools it runs (skopeo, runc, ...) installed.
PREFIX ?= /usr/local
install: release
	install -D -m 0755 .build/release/harden $(DESTDIR)$(PREFIX)/bin/harden

# Installs what the tests need, builds, and runs every test (unit, interop with real tools).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# The main job, end to end: a hardened image built from Debian packages into out/store.
demo: release
	bash scripts/demo.sh

# Throughput figures against gzip, zstd and sha256sum (see Benchmarks/README.md).
bench: deps
	$(SWIFT) build -c release --product HardenBench
	$(SWIFT) build -c release --product harden
	.build/release/HardenBench

clean:
	rm -rf .build out
