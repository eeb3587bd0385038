# Benchmark targets, included from the Makefile (see bench/README.md).
#
#   make bench-deps   install nginx, its Lua module, lua-cjson and wrk (Debian)
#   make bench-e2e    build luagate and the baselines, run every scenario, print
#                     one table and write bench/results/<UTC time>.md
#
# Settings pass through the environment: ROUNDS (3), DURATION (5s), WARMUP (1s),
# THREADS (2), CONNECTIONS (64), SERVERS, SCENARIOS, TIMEOUT (10m), LUAGATE_BIN,
# UPSTREAM (auto|nginx|go); BENCH_FLAGS adds runner flags (e.g. -keep).

BENCH_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_APT := DEBIAN_FRONTEND=noninteractive
BENCH_PACKAGES := nginx libnginx-mod-http-lua lua-cjson wrk
BENCH_FLAGS ?=
BENCH_GO := $(or $(GO),go)
BENCH_BIN := $(or $(BIN),bin)

.PHONY: bench-deps bench-e2e

bench-deps:
	$(BENCH_SUDO) env $(BENCH_APT) apt-get update
	$(BENCH_SUDO) env $(BENCH_APT) apt-get install -y --no-install-recommends $(BENCH_PACKAGES)

bench-e2e:
	$(BENCH_GO) build -o $(BENCH_BIN)/bench-runner ./bench/cmd/runner
	$(BENCH_BIN)/bench-runner $(BENCH_FLAGS)
