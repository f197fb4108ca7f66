# tenantgen — every target installs what it needs into ./bin (tools) or
# $(CACHE_DIR) (the test control plane, kept outside the clone so CI reuses it).
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN            := $(CURDIR)/bin
CACHE_DIR      ?= $(HOME)/.cache/tenantgen
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
TENANTGEN      := $(BIN)/tenantgen
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS        := -X github.com/projectcapsule/tenantgen/pkg/version.Version=$(VERSION)
CRD_DIR        := config/crd

export GOFLAGS := -buildvcs=false

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/tenantgen.
	go build -ldflags "$(LDFLAGS)" -o $(TENANTGEN) ./cmd/tenantgen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./pkg/api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD YAML from the API types.
	$(CONTROLLER_GEN) crd paths=./pkg/api/... output:crd:artifacts:config=$(CRD_DIR)

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated files differ from what is committed.
	@if [ -n "$$(git status --porcelain -- pkg/api $(CRD_DIR))" ]; then \
	  echo "generated files are stale; run 'make generate manifests' and commit:"; \
	  git status --porcelain -- pkg/api $(CRD_DIR); git --no-pager diff --stat -- pkg/api $(CRD_DIR); exit 1; fi

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	@echo "installing controller-gen $(CONTROLLER_GEN_VERSION) from the Go module proxy"
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

##@ Test

# Prints the directory of the control-plane binaries, building them on first use.
ASSETS = $$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(ENVTEST_ASSETS_SCRIPT) | tail -n1)

.PHONY: test
test: verify-generated build ## Run every test: unit, golden, envtest suites and the demo smoke test.
	go vet ./...
	KUBEBUILDER_ASSETS="$(ASSETS)" && export KUBEBUILDER_ASSETS && \
	  go test -timeout 30m ./... && \
	  echo "==> demo smoke test (TENANTGEN_DEMO_EXIT=1 make demo)" && \
	  TENANTGEN_DEMO_EXIT=1 go run ./test/demo -tenantgen $(TENANTGEN) >/tmp/tenantgen-demo-smoke.log && \
	  grep -c '^kind: Gateway$$' /tmp/tenantgen-demo-smoke.log | xargs -I{} echo "demo smoke: {} Gateways generated"

.PHONY: demo
demo: build ## Start a local control plane with the samples, run the controller, print what it generated.
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./test/demo -tenantgen $(TENANTGEN)

.PHONY: bench
bench: ## Run the render benchmarks and print the numbers.
	bash hack/bench.sh

##@ Test control plane

ENVTEST_ASSETS_SCRIPT := test/scripts/install-control-plane.sh

.PHONY: envtest-assets
envtest-assets: ## Build etcd + kube-apiserver for envtest into $(CACHE_DIR)/envtest (Go module proxy only).
	TENANTGEN_CACHE=$(CACHE_DIR) bash $(ENVTEST_ASSETS_SCRIPT) >/dev/null
