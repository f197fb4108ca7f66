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
CHART_DIR      := charts/tenantgen
# Generated or copied files that must match what is committed (make verify-generated).
GENERATED      := pkg/api $(CRD_DIR) $(CHART_DIR)/files $(CHART_DIR)/README.md
IMG            ?= ghcr.io/projectcapsule/tenantgen:$(VERSION)

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
	@$(MAKE) --no-print-directory chart-files

.PHONY: chart-files
chart-files: ## Copy the CRDs, samples/ and catalog GlobalTenantResources into the Helm chart.
	@# The CRDs go to files/crds, rendered by templates/crds.yaml (crds.install), not to crds/,
	@# which Helm installs once and never upgrades.
	rm -rf $(CHART_DIR)/crds $(CHART_DIR)/files/crds $(CHART_DIR)/files/samples $(CHART_DIR)/files/generators
	mkdir -p $(CHART_DIR)/files/crds $(CHART_DIR)/files/samples
	cp $(CRD_DIR)/*.yaml $(CHART_DIR)/files/crds/
	@# samples/<name>.yaml are GlobalTenantResources; <name>.test.yaml and testdata/ are their tests.
	for f in samples/*.yaml; do case "$$f" in *.test.yaml) ;; *) cp "$$f" $(CHART_DIR)/files/samples/ ;; esac; done
	@# generators/<name>/globaltenantresource.yaml becomes files/generators/<name>.yaml and a variant
	@# generators/<name>/globaltenantresource-<variant>.yaml becomes files/generators/<name>-<variant>.yaml.
	@for f in generators/*/globaltenantresource*.yaml; do \
	  [ -f "$$f" ] || continue; v="$$(basename "$$f" .yaml)"; \
	  dst="$(CHART_DIR)/files/generators/$$(basename "$$(dirname "$$f")")$${v#globaltenantresource}.yaml"; \
	  mkdir -p "$$(dirname "$$dst")"; echo "cp $$f $$dst"; cp "$$f" "$$dst"; done

.PHONY: verify-generated
verify-generated: generate manifests chart-docs ## Fail when generated files differ from what is committed.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
	  echo "generated files are stale; run 'make generate manifests' and commit:"; \
	  git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; fi

.PHONY: chart-docs
chart-docs: ## Generate charts/tenantgen/README.md from its README.md.gotmpl and values.yaml (helm-docs).
	"$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_DOCS_SCRIPT) | tail -n1)" --chart-search-root $(CHART_DIR) \
	  --template-files README.md.gotmpl --output-file README.md

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	@echo "installing controller-gen $(CONTROLLER_GEN_VERSION) from the Go module proxy"
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

##@ Test

# Prints the directory of the control-plane binaries, building them on first use.
ASSETS = $$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(ENVTEST_ASSETS_SCRIPT) | tail -n1)

.PHONY: test
test: verify-generated build ## Run every test: unit, golden, template tests, envtest suites, demo smoke test.
	go vet ./...
	$(TENANTGEN) test generators samples
	KUBEBUILDER_ASSETS="$(ASSETS)" && export KUBEBUILDER_ASSETS && \
	  HELM="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_SCRIPT) | tail -n1)" && export HELM && \
	  HELM_DOCS="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_DOCS_SCRIPT) | tail -n1)" && export HELM_DOCS && \
	  PROMTOOL="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(PROMTOOL_SCRIPT) | tail -n1)" && export PROMTOOL && \
	  CAPSULE_MANAGER="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(CAPSULE_SCRIPT) | tail -n1)" && export CAPSULE_MANAGER && \
	  go test -timeout 30m ./... && \
	  echo "==> demo smoke test (TENANTGEN_DEMO_EXIT=1 make demo)" && \
	  TENANTGEN_DEMO_EXIT=1 go run ./test/demo -tenantgen $(TENANTGEN) >/tmp/tenantgen-demo-smoke.log && \
	  grep -c '^kind: Gateway$$' /tmp/tenantgen-demo-smoke.log | xargs -I{} echo "demo smoke: {} Gateways generated" && \
	  grep -q 'condition met' /tmp/tenantgen-demo-smoke.log && echo "demo smoke: kubectl wait --for=condition=Ready tgr --all succeeded" && \
	  if grep -q 'export KUBECONFIG=' /tmp/tenantgen-demo-smoke.log; then \
	    echo "demo smoke: TENANTGEN_DEMO_EXIT=1 printed a kubeconfig it deletes"; exit 1; fi

.PHONY: demo
demo: build ## Start a local control plane with the samples, run the controller, print what it generated.
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./test/demo -tenantgen $(TENANTGEN)

.PHONY: chart-test
chart-test: ## Run only the Helm chart tests (lint, template, apply to envtest, schema, alerts with promtool, README up to date).
	KUBEBUILDER_ASSETS="$(ASSETS)" && export KUBEBUILDER_ASSETS && \
	  HELM="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_SCRIPT) | tail -n1)" && export HELM && \
	  HELM_DOCS="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_DOCS_SCRIPT) | tail -n1)" && export HELM_DOCS && \
	  PROMTOOL="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(PROMTOOL_SCRIPT) | tail -n1)" && export PROMTOOL && \
	  go test -count=1 -timeout 15m ./test/chart/...

# Native Go fuzz targets, run one after the other (the corpus in each package's
# testdata/fuzz runs with every `go test`). FUZZTIME is per target: a duration
# (60s) or an exec count (1000000x).
FUZZTIME    ?= 60s
# Each new interesting input is minimised for up to this long (Go's default,
# 60s, spends most of a short run minimising instead of fuzzing).
FUZZMINIMIZETIME ?= 1s
FUZZ_TARGETS := ./pkg/render:FuzzPlaceholders ./pkg/render:FuzzRender ./pkg/manifest:FuzzDecode

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 60s), one at a time.
	@for t in $(FUZZ_TARGETS); do pkg="$${t%%:*}"; fn="$${t##*:}"; \
	  echo "==> $$fn ($$pkg, $(FUZZTIME))"; \
	  go test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) -parallel=1 "$$pkg" || exit 1; done

.PHONY: bench
bench: ## Run the render benchmarks and print the numbers.
	bash hack/bench.sh

.PHONY: bench-controller
bench-controller: build ## Measure bin/tenantgen with 1,000 tenants against the apiserver's write ceiling (issue 9 goals).
	KUBEBUILDER_ASSETS="$(ASSETS)" go run ./test/bench -tenants 1000

##@ Test control plane

ENVTEST_ASSETS_SCRIPT := test/scripts/install-control-plane.sh
HELM_SCRIPT           := test/scripts/install-helm.sh
HELM_DOCS_SCRIPT      := test/scripts/install-helm-docs.sh
PROMTOOL_SCRIPT       := test/scripts/install-promtool.sh
CAPSULE_SCRIPT        := test/scripts/install-capsule.sh

.PHONY: envtest-assets
envtest-assets: ## Build etcd + kube-apiserver (and kubectl, for the demo) for envtest into $(CACHE_DIR)/envtest (Go module proxy only).
	TENANTGEN_CACHE=$(CACHE_DIR) bash $(ENVTEST_ASSETS_SCRIPT) >/dev/null

.PHONY: capsule
capsule: ## Build the Capsule v0.14.0 manager for test/capsule into $(CACHE_DIR)/capsule-v0.14.0 (Go module proxy only); prints its path.
	@TENANTGEN_CACHE=$(CACHE_DIR) bash $(CAPSULE_SCRIPT) | tail -n1

.PHONY: capsule-test
capsule-test: ## Run only the e2e suite with the real Capsule manager next to tenantgen (prints what each did).
	KUBEBUILDER_ASSETS="$(ASSETS)" && export KUBEBUILDER_ASSETS && \
	  CAPSULE_MANAGER="$$(TENANTGEN_CACHE=$(CACHE_DIR) bash $(CAPSULE_SCRIPT) | tail -n1)" && export CAPSULE_MANAGER && \
	  go test -count=1 -v -timeout 10m ./test/capsule/... | grep -v '^\s*20[0-9][0-9]-'

.PHONY: helm
helm: ## Build helm v3.22.0 for the chart tests into $(CACHE_DIR)/helm (Go module proxy only); prints its path.
	@TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_SCRIPT) | tail -n1

.PHONY: helm-docs
helm-docs: ## Build helm-docs v1.14.2 for the chart README into $(CACHE_DIR)/helm-docs (Go module proxy only); prints its path.
	@TENANTGEN_CACHE=$(CACHE_DIR) bash $(HELM_DOCS_SCRIPT) | tail -n1

.PHONY: promtool
promtool: ## Build promtool (Prometheus 3.16.0) for the chart's alert tests into $(CACHE_DIR)/promtool (Go module proxy only); prints its path.
	@TENANTGEN_CACHE=$(CACHE_DIR) bash $(PROMTOOL_SCRIPT) | tail -n1

##@ Image

.PHONY: docker-build
docker-build: ## Build the controller image $(IMG) from the Dockerfile.
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .
