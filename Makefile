# Rill — a newcomer needs two commands: `make run` and `make test`.
# Every target installs what it needs from Debian first (root, apt-get update once).

SWIFT        ?= swift
HOST         ?= 127.0.0.1
PORT         ?= 8080
MAIN_EXAMPLE ?= Notifications
# What building and testing need on a fresh Debian machine.
APT_BUILD    := libuv1-dev pkg-config
# What `make bench` needs on top: the load generator and the reference server.
APT_BENCH    := wrk nginx-light util-linux

.PHONY: run test build build-release bench deps deps-bench clean

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(APT_BUILD))

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
test: deps
	$(SWIFT) build --build-tests -Xswiftc -warnings-as-errors
	$(SWIFT) test --skip-build

## Release build, then the benchmark scenarios; prints one table.
bench: deps-bench
	$(SWIFT) build -c release --product Hello
	Benchmarks/scripts/http-wrk.sh .build/release/Hello
	$(SWIFT) build -c release --product SSEIdleServer
	$(SWIFT) build -c release --product rill-load
	Benchmarks/scripts/sse-idle.sh .build/release/SSEIdleServer .build/release/rill-load

clean:
	rm -rf .build
