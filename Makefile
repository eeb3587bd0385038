# luagate — see README.md. `make run` serves the example kong.yml; `make test` is what CI runs.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 30s
PKGS      := ./...

.PHONY: all build run test test-deps unit lint race bench bench-go fuzz fuzz-long clean

all: build

build:
	$(GO) build -o $(BIN)/luagate ./cmd/luagate
	$(GO) build -o $(BIN)/echo-upstream ./cmd/echo-upstream

# Serve the example kong.yml on :8000 (admin 127.0.0.1:8001, status 127.0.0.1:8007),
# with the demo upstream it proxies to on 127.0.0.1:9000. Ctrl-C stops both.
run: build
	@$(BIN)/echo-upstream -listen 127.0.0.1:9000 & up=$$!; \
	trap 'kill $$up 2>/dev/null' EXIT INT TERM; \
	$(BIN)/luagate start -c kong.yml

# What CI runs: static checks, then every test (fuzz seeds included).
test: lint unit test-deploy

# Debian packages the tests run for real: redis-server (resty.redis), nginx with
# its Lua module (the benchmark's baseline configs are checked with nginx -t).
# Installed only when missing; services are not started (policy-rc.d), the
# tests start their own on free loopback ports.
TEST_PACKAGES := redis-server nginx libnginx-mod-http-lua lua-cjson
test-deps:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing:" $$missing; \
	  printf '#!/bin/sh\nexit 101\n' | $$sudo tee /usr/sbin/policy-rc.d >/dev/null; $$sudo chmod +x /usr/sbin/policy-rc.d; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  rc=$$?; $$sudo rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

unit:
	$(GO) test -count=1 $(PKGS)

race:
	$(GO) test -race -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^bench/results/')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

# The side-by-side benchmark against nginx + Lua (see bench/README.md; needs `make bench-deps`).
bench: build bench-e2e

# Go micro-benchmarks (router, PDK, pool, proxy) with allocations.
bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

# Every fuzz target, each for FUZZTIME (corpora: testdata/fuzz/ in each package;
# crashers found land there and stay as regression seeds for plain go test).
FUZZ_TARGETS := ./declarative:FuzzLoad ./gateway/router:FuzzMatch ./gateway/router:FuzzNormalizePath \
	./gateway:FuzzAcceptNegotiation ./lualib:FuzzPDK ./lualib:FuzzCJSONDecode ./lualib:FuzzNgxReCompile \
	./lualib:FuzzPatternEquivalence ./functions:FuzzCompile ./gateway:FuzzHeadFix
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg; done

fuzz-long:
	$(MAKE) fuzz FUZZTIME=10m

clean:
	rm -rf $(BIN)

-include bench.mk

# Container image (needs a Docker engine) and the deployment checks: the
# Kubernetes manifests and Helm chart under deploy/ (a Go module of its own,
# so Helm and the Kubernetes API stay out of the gateway's dependencies).
IMAGE ?= luagate:dev
.PHONY: image test-deploy
image:
	@docker info >/dev/null 2>&1 || { echo "make image: no Docker engine answers ('docker info' failed); build the image where Docker runs" >&2; exit 1; }
	docker build -t $(IMAGE) .

test-deploy:
	cd deploy && $(GO) test -count=1 ./...
