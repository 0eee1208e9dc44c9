# Hearth. `make test` is the one test command (README, .ci/run).
GO ?= go
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
NATS_URL ?= nats://127.0.0.1:4222

# PostgreSQL and NATS suites run when those services answer (or when the
# variables are already set, as .ci/run does).
HEARTH_TEST_POSTGRES_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo '$(PG_URL)')
HEARTH_TEST_NATS_URL ?= $(shell (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && echo '$(NATS_URL)')
export HEARTH_TEST_POSTGRES_URL HEARTH_TEST_NATS_URL
SHELL := /bin/bash
GOLANGCI_LINT_VERSION := v2.15.0

.PHONY: test vet lint fmt-check build release run docs bench web web-check web-test

# One set of build flags for `make build`, `make release` and the Containerfile
# (a test in internal/cli checks the Containerfile's build line against these).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/hearth-community/hearth/internal/cli.Version=$(VERSION)
BUILDFLAGS := -trimpath -ldflags "$(LDFLAGS)"
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

# -race also turns on checkptr (unsafe.Pointer rule checks) in every package;
# in modernc.org's SQLite, C translated to Go that does pointer arithmetic on
# every row, it made SQLite tests 2-6 times slower than the same tests on
# PostgreSQL. Race detection stays on everywhere (ours and modernc's code);
# only checkptr is off, and only in modernc.org's packages.
RACEFLAGS := -race -gcflags='modernc.org/...=-d=checkptr=0'

test: vet lint fmt-check docs-check web-test
	@echo "postgres: $${HEARTH_TEST_POSTGRES_URL:-skipped}  nats: $${HEARTH_TEST_NATS_URL:-skipped}"
	$(GO) test $(RACEFLAGS) -count=1 -timeout 45m ./...

vet:
	$(GO) vet ./...

# golangci-lint (v2, .golangci.yml): installed into $(go env GOPATH)/bin on
# first use, so `make test` works on a fresh machine with Go alone; it never
# passes unchecked.
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $$($(GO) env GOPATH)/bin/golangci-lint)
lint:
	@test -x "$(GOLANGCI_LINT)" || { echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) (go install, through the Go module proxy)"; \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); }
	$(GOLANGCI_LINT) run ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

build:
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o hearth ./cmd/hearth

# Static binaries for every platform in RELEASE_PLATFORMS into release/, with
# their SHA-256 sums. No cgo, so no cross toolchain is needed.
release:
	rm -rf release && mkdir -p release
	for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(BUILDFLAGS) -o release/hearth-$(VERSION)-$$os-$$arch ./cmd/hearth || exit 1; \
	done
	cd release && sha256sum hearth-* > SHA256SUMS

run:
	$(GO) run ./cmd/hearth

docs:
	$(GO) run ./cmd/hearth config-docs > docs/configuration.md

docs-check:
	@$(GO) run ./cmd/hearth config-docs | diff -u docs/configuration.md - || (echo "docs/configuration.md is stale: run make docs"; exit 1)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The web app (web/) is built into internal/surface/web/dist and embedded in
# the binary; commit the result. TestBuildIsCurrent fails when it is stale.
web:
	cd web && npm ci --no-audit --no-fund && npm test && npm run build

# The web app's unit tests (sync math, backoff, text helpers) need Node; the
# Go tests check the embedded build is current without it. A registry outage
# skips them; a failing test fails the run.
web-test:
	@if ! command -v npm >/dev/null 2>&1; then echo "web unit tests skipped: no npm"; \
	elif (cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }); then cd web && npm test; \
	else echo "web unit tests skipped: npm ci failed (is the npm registry reachable?)"; fi

web-check:
	cd web && npm run check && npm test
