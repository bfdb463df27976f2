# Rill — a newcomer needs two commands: `make run` and `make test`.
# Every target installs what it needs from Debian first (root, apt-get update once).

SWIFT        ?= swift
HOST         ?= 127.0.0.1
PORT         ?= 8080
MAIN_EXAMPLE ?= Notifications
# What building and testing need on a fresh Debian machine.
APT_BUILD    := libuv1-dev pkg-config libhiredis-dev libssl-dev libnghttp2-dev
# What `make test` needs on top: headless Chromium and its driver (browser tests), pip,
# redis-server (RillRedisTests start their own on a free port), curl (HTTP/2 checks), openssl
# (test certificates) and iproute2 (`ss`: the kernel's view of the server's sockets).
APT_TEST     := chromium chromium-driver python3-pip redis-server curl openssl iproute2
# PyPI packages of the client tests (Tests/RillClientTests, Tests/browser), and their modules.
PIP_TEST     := selenium sseclient-py requests h2
PIP_MODULES  := selenium, sseclient, requests, h2
# The interpreter behind `python3` (pyenv's shim or Debian's): pip installs into it and the tests
# run it, so both always agree.
export RILL_TEST_PYTHON := $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
PYTHON       := $(or $(RILL_TEST_PYTHON),python3)
# What `make bench` needs on top: the load generators (wrk), taskset, pgrep and redis-server.
APT_BENCH    := wrk util-linux procps redis-server nghttp2-client

.PHONY: run test build build-release bench deps deps-test deps-bench clean lint format docs

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(APT_BUILD))

## What the tests need: one apt run for everything missing, then pip only if an import fails.
deps-test:
	$(call apt_install,$(APT_BUILD) $(APT_TEST))
	@$(PYTHON) -c 'import $(PIP_MODULES)' 2>/dev/null || { \
		echo "installing (pip): $(PIP_TEST)"; \
		PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore \
			$(PYTHON) -m pip install --quiet --disable-pip-version-check $(PIP_TEST); }

deps-bench: deps
	$(call apt_install,$(APT_BENCH))

build: deps
	$(SWIFT) build

build-release: deps
	$(SWIFT) build -c release

## Builds in release mode and starts the main example; prints the URL once it listens.
run: deps
	$(SWIFT) build -c release --product $(MAIN_EXAMPLE)
	.build/release/$(MAIN_EXAMPLE) --host $(HOST) --port $(PORT)

## The toolchain's swift-format with the committed .swift-format: `make lint` fails on any
## finding (make test runs it first); `make format` rewrites the files in place.
FORMAT_PATHS := Sources Tests Examples Benchmarks Fuzz Package.swift
lint:
	$(SWIFT) format lint --strict --recursive $(FORMAT_PATHS)
format:
	$(SWIFT) format format --in-place --recursive $(FORMAT_PATHS)

## Checks the formatting, builds everything (warnings are errors) and runs the whole test suite.
test: deps-test lint
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	# One test at a time: the live-socket, browser and redis tests measure behaviour under time
	# bounds, and a 2-core machine running them all at once starves some of them.
	$(SWIFT) test --skip-build --no-parallel

## The DocC documentation of the Rill module (Sources/Rill/Rill.docc and the doc comments), with
## swift-docc-plugin, as a static website in .build/docs (open .build/docs/index.html through any
## static web server, at /documentation/rill).
DOCS_DIR := .build/docs
docs: deps
	@mkdir -p $(dir $(DOCS_DIR))
	$(SWIFT) package --allow-writing-to-directory $(DOCS_DIR) generate-documentation --target Rill \
		--output-path $(DOCS_DIR) --disable-indexing --transform-for-static-hosting
	@echo "documentation: $(CURDIR)/$(DOCS_DIR) (serve it, e.g. python3 -m http.server -d $(DOCS_DIR), then open /documentation/rill)"

## Release build, then the benchmark scenarios on rill-hub (in-memory broker; the last one on
## Redis), then idle and fan-out over TLS (tls-idle, tls-fanout: a self-signed certificate,
## rill-load --tls), then HTTP/2 over TLS (h2-idle: 10,000 streams on 100 connections and the
## same over HTTP/1.1; h2-fanout: likewise; h2-http: h2load on GET /ping); prints one table
## (Benchmarks/scripts/bench.sh). Fan-out and plain HTTP also run with `--loops 2`, on both
## cores and with both loops on CPU 0 (the loops column: LOOPS, LOOPS_SCENARIOS). About 30 minutes.
bench: deps-bench
	$(SWIFT) build -c release --product rill-hub
	$(SWIFT) build -c release --product rill-load
	Benchmarks/scripts/bench.sh

## Microbenchmarks (package-benchmark, nested package Benchmarks/Micro): HTTP parsing, SSE
## encoding, routing, in-process fan-out to 10,000 subscriptions; time and mallocs, then
## instructions per operation counted under valgrind (VMs often lack hardware counters).
.PHONY: bench-micro
bench-micro: deps
	$(call apt_install,valgrind)
	Benchmarks/Micro/run.sh --instructions

clean:
	rm -rf .build

## Rill against nginx+nchan and FastAPI (uvicorn, uvloop, httptools), scenarios 1–5 of
## `make bench`, its TLS rows (nginx `listen … ssl`, uvicorn --ssl-*, on the same certificate)
## and its HTTP/2 rows (nginx `listen … ssl http2`; uvicorn has no HTTP/2) with the same
## harness in the same run; one table with Rill's ratio to each.
## Fan-out, churn and plain HTTP run in rounds, the servers' order alternated each round; the
## headline is the median server CPU per operation. About 45 minutes.
APT_COMPARE  := nginx libnginx-mod-nchan util-linux procps python3-pip nghttp2-client
PIP_COMPARE  := fastapi uvicorn uvloop httptools
.PHONY: bench-compare
bench-compare: deps
	$(call apt_install,$(APT_COMPARE))
	@python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null || { \
		echo "installing (pip): $(PIP_COMPARE)"; \
		PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore \
			python3 -m pip install --quiet --disable-pip-version-check $(PIP_COMPARE); }
	$(SWIFT) build -c release --product rill-hub
	$(SWIFT) build -c release --product rill-load
	$(call apt_install,wrk)
	PYTHON=python3 SERVERS="rill nchan fastapi" SCENARIOS="idle fanout rate small churn http tls-idle tls-fanout h2-idle h2-fanout h2-http" LOOPS="" \
		Benchmarks/scripts/bench.sh

# ---------------------------------------------------------------------------------------------
# Keeping it so (issue 12): fuzzing, the suite under sanitizers, the soak. None is part of
# `make test`.

## libFuzzer targets (nested package Fuzz/, built with -sanitize=fuzzer,address): the request
## parser through the connection state machine (http), the SSE client parser (sse), Redis reply
## decoding through hiredis's reader (redis), request-target/percent decoding and routing
## (route). Each runs FUZZ_SECONDS from a temporary copy of Fuzz/corpus/<target>; findings go
## to .build-fuzz/findings/. See Fuzz/README.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= http sse redis route
FUZZ_BUILD   := -c debug --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address \
	-Xswiftc -parse-as-library -Xswiftc -enable-testing
.PHONY: fuzz fuzz-build
fuzz-build: deps
	cd Fuzz && $(SWIFT) build $(FUZZ_BUILD)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/run.sh $(FUZZ_TARGETS)

## The whole test suite under AddressSanitizer, then under ThreadSanitizer, each in its own
## scratch path. Reports are errors (halt_on_error); the suppressions in Tests/sanitizers/ each
## say why they are not bugs. Child processes the tests start (examples, rill-hub) are built with
## the same sanitizer and inherit the options. State (2026-12-05): the ASan run passes (928
## tests, no leak report, after two reference cycles were fixed); the TSan run aborted inside
## ThreadSanitizer's runtime (SEGV in __tsan::ExternalAccess) at JitterRandomNumberGeneratorTests
## — a zero-sized generator passed inout; it has a stored byte now and that suite passes under
## TSan, the whole TSan run was not repeated since (it passed on 2026-12-02 with no report and no
## suppression: Rill's locks are SanitizerVisibleMutex, whose critical sections TSan sees).
ASAN_OPTIONS_SANITIZE := halt_on_error=1:detect_leaks=1
LSAN_OPTIONS_SANITIZE := suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp:print_suppressions=0
TSAN_OPTIONS_SANITIZE := halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/Tests/sanitizers/tsan.supp
# Tests that cannot run under a sanitizer, with why (swift test --skip, a regular expression).
# FreedMemoryTests measure what glibc's malloc_trim gives back; under ASan and TSan the
# sanitizer's allocator replaces glibc's (mallinfo2 and malloc_trim do not see its memory).
SANITIZE_SKIP_ASAN := --skip FreedMemoryTests
SANITIZE_SKIP_TSAN := --skip FreedMemoryTests
.PHONY: test-sanitize test-asan test-tsan
# Both runs always happen; the target fails if either did.
test-sanitize:
	@status=0; $(MAKE) --no-print-directory test-asan || status=1; \
	$(MAKE) --no-print-directory test-tsan || status=1; exit $$status
test-asan: deps-test
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=$(ASAN_OPTIONS_SANITIZE) LSAN_OPTIONS=$(LSAN_OPTIONS_SANITIZE) $(SWIFT) test --skip-build --sanitize=address \
		--scratch-path .build-asan --no-parallel $(SANITIZE_SKIP_ASAN)
test-tsan: deps-test
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS=$(TSAN_OPTIONS_SANITIZE) $(SWIFT) test --skip-build --sanitize=thread \
		--scratch-path .build-tsan --no-parallel $(SANITIZE_SKIP_TSAN)

## rill-hub (release, --redis) for SOAK_SECONDS (600) under churn, fan-out, resetting, stalled and
## replaying clients and a Redis restart; RSS and fds every 10 s into a CSV and a PNG; PASS when
## RSS comes back within 10 % of its post-warm-up level and fds to baseline
## (Benchmarks/soak/soak.sh). Results in .build-soak/soak-results/.
SOAK_SECONDS ?= 600
PIP_SOAK     := matplotlib
.PHONY: soak
soak: deps
	$(call apt_install,redis-server procps coreutils python3-pip)
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || { \
		echo "installing (pip): $(PIP_SOAK)"; \
		PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore \
			$(PYTHON) -m pip install --quiet --disable-pip-version-check $(PIP_SOAK); }
	$(SWIFT) build -c release --scratch-path .build-soak --product rill-hub
	$(SWIFT) build -c release --scratch-path .build-soak --product rill-load
	SOAK_SECONDS=$(SOAK_SECONDS) PYTHON=$(PYTHON) Benchmarks/soak/soak.sh
