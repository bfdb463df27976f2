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
# What `make bench` needs on top: the load generator and the reference server.
APT_BENCH    := wrk nginx-light util-linux redis-server

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

## Release build, then the benchmark scenarios; prints one table.
bench: deps-bench
	$(SWIFT) build -c release --product Hello
	Benchmarks/scripts/http-wrk.sh .build/release/Hello
	$(SWIFT) build -c release --product SSEIdleServer
	$(SWIFT) build -c release --product rill-load
	IDLE=subscribe Benchmarks/scripts/sse-idle.sh .build/release/SSEIdleServer .build/release/rill-load
	sleep 5  # let the previous server's port and sockets go
	IDLE=sleep PORT=18091 Benchmarks/scripts/sse-idle.sh .build/release/SSEIdleServer .build/release/rill-load
	sleep 5
	PORT=18092 Benchmarks/scripts/sse-fanout.sh .build/release/SSEIdleServer .build/release/rill-load
	PORT=18093 Benchmarks/scripts/sse-churn.sh .build/release/SSEIdleServer .build/release/rill-load

clean:
	rm -rf .build

## Rill against nginx+nchan and FastAPI (uvicorn, uvloop, httptools) on the same SSE scenarios;
## prints one table with Rill's ratio to each (Benchmarks/scripts/bench-compare.sh).
APT_COMPARE  := nginx libnginx-mod-nchan util-linux procps python3-pip
PIP_COMPARE  := fastapi uvicorn uvloop httptools
.PHONY: bench-compare
bench-compare: deps
	$(call apt_install,$(APT_COMPARE))
	@python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null || { \
		echo "installing (pip): $(PIP_COMPARE)"; \
		PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore \
			python3 -m pip install --quiet --disable-pip-version-check $(PIP_COMPARE); }
	$(SWIFT) build -c release --scratch-path .build-compare --product SSEIdleServer
	$(SWIFT) build -c release --scratch-path .build-compare --product rill-load
	PYTHON=python3 Benchmarks/scripts/bench-compare.sh .build-compare/release/SSEIdleServer .build-compare/release/rill-load
