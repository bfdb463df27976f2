# Rill — a newcomer needs two commands: `make run` and `make test`.
# Every target installs what it needs from Debian first (root, apt-get update once).

SWIFT        ?= swift
HOST         ?= 127.0.0.1
PORT         ?= 8080
MAIN_EXAMPLE ?= Notifications
# What building and testing need on a fresh Debian machine.
APT_BUILD    := libuv1-dev pkg-config libhiredis-dev
# What `make test` needs on top: headless Chromium and its driver (browser tests), pip, and
# redis-server (RillRedisTests start their own on a free port).
APT_TEST     := chromium chromium-driver python3-pip redis-server
# PyPI packages of the client tests (Tests/RillClientTests, Tests/browser), and their modules.
PIP_TEST     := selenium sseclient-py requests
PIP_MODULES  := selenium, sseclient, requests
# The interpreter behind `python3` (pyenv's shim or Debian's): pip installs into it and the tests
# run it, so both always agree.
export RILL_TEST_PYTHON := $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
PYTHON       := $(or $(RILL_TEST_PYTHON),python3)
# What `make bench` needs on top: the load generators (wrk), taskset, pgrep and redis-server.
APT_BENCH    := wrk util-linux procps redis-server

.PHONY: run test build build-release bench deps deps-test deps-bench clean

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

## Builds everything (warnings are errors) and runs the whole test suite.
test: deps-test
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	# One test at a time: the live-socket, browser and redis tests measure behaviour under time
	# bounds, and a 2-core machine running them all at once starves some of them.
	$(SWIFT) test --skip-build --no-parallel

## Release build, then the benchmark scenarios on rill-hub (in-memory broker; the last one on
## Redis); prints one table (Benchmarks/scripts/bench.sh). About 10 minutes.
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
## `make bench` with the same harness in the same run; one table with Rill's ratio to each.
## About 28 minutes.
APT_COMPARE  := nginx libnginx-mod-nchan util-linux procps python3-pip
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
	PYTHON=python3 SERVERS="rill nchan fastapi" SCENARIOS="idle fanout rate small churn http" \
		Benchmarks/scripts/bench.sh
