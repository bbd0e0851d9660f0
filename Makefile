# hpo-operator developer targets. Every target builds or refreshes .venv itself, so any of them
# works as the first command on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLUSTER_DIR ?= $(CURDIR)/.cluster
NODE_DIR ?= $(CURDIR)/.node
NODE_IMAGES ?=  # image archives (`docker save` output) for make node-up to import
TOOLS_ENV := $(CURDIR)/.cache/tools.env
PYTEST_ARGS ?=

.PHONY: help venv tools lint typecheck test unit e2e cluster-up cluster-down node-up node-down \
        kind-up kind-down demo crds manifests bench chaos image docker-up emulator lock audit policy \
        clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The operator with its dev extras, and the two distributions that never ship in its image: the
# SageMaker emulator (emulator/) and the local test ground (devtools/). All editable, one step.
$(STAMP): pyproject.toml emulator/pyproject.toml devtools/pyproject.toml requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements/lock.txt \
	  -e '.[dev]' -e ./emulator -e ./devtools
	@touch $@

venv: $(STAMP) ## Create or update .venv from the lock file

$(TOOLS_ENV): hack/build-tools.sh hack/build-node.sh hack/lib/go-build.sh hack/envtest/go.mod hack/helm/go.mod \
              hack/argocd-health/go.mod hack/argocd-health/go.sum hack/argocd-health/main.go \
              hack/node/pause/main.go hack/node/oci_image.py
	@mkdir -p $(dir $@)
	@{ hack/build-tools.sh --print-env && hack/build-node.sh --print-env; } > $@.tmp && mv $@.tmp $@

tools: $(TOOLS_ENV) ## Build (once) kube-apiserver, etcd, kubectl, helm, argocd-health, node binaries
	@cat $(TOOLS_ENV)

lint: $(STAMP) ## ruff check + ruff format --check + the layer contracts (pyproject.toml)
	$(BIN)/ruff check operator emulator devtools tests hack bench
	$(BIN)/ruff format --check operator emulator devtools tests hack bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP) ## mypy, strict on operator/, emulator/ and devtools/
	$(BIN)/mypy

test: lint typecheck $(TOOLS_ENV) ## Lint, types and every test tier
	set -a; source $(TOOLS_ENV); set +a; $(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP) ## Pure unit tests only (no API server, nothing built: tests/conftest.py marks)
	$(BIN)/pytest -m "not e2e and not cluster and not node and not tools" $(PYTEST_ARGS)

cluster-up: $(STAMP) $(TOOLS_ENV) ## Start the local kube-apiserver + etcd; prints the kubeconfig path
	@set -a; source $(TOOLS_ENV); set +a; $(BIN)/python -m hpo_devtools.cluster up --dir $(CLUSTER_DIR)

cluster-down: $(STAMP) ## Stop the local API server and remove its data
	@$(BIN)/python -m hpo_devtools.cluster down --dir $(CLUSTER_DIR)

node-up: $(STAMP) $(TOOLS_ENV) ## Start an API server + a node that runs pods (root); prints the kubeconfig
	@set -a; source $(TOOLS_ENV); set +a; $(BIN)/python -m hpo_devtools.node up --dir $(NODE_DIR) \
	  $(foreach i,$(NODE_IMAGES),--image $(i))

node-down: $(STAMP) ## Stop the node and its API server, remove their files
	@$(BIN)/python -m hpo_devtools.node down --dir $(NODE_DIR)

kind-up: ## For users with Docker: a kind cluster with the CRDs installed
	kind create cluster --name hpo-operator
	kubectl apply --server-side -f crds/

kind-down: ## Delete the kind cluster
	kind delete cluster --name hpo-operator

demo: $(STAMP) $(TOOLS_ENV) ## Local API server + SageMaker emulator + operator + a sample job to Completed
	@set -a; source $(TOOLS_ENV); set +a; $(BIN)/python hack/demo.py

crds: $(STAMP) ## Regenerate crds/ (and the chart's copy) from botocore's SageMaker model
	$(BIN)/hpo-operator crd --output-dir crds
	cp crds/*.yaml charts/hpo-operator/crds/

manifests: $(STAMP) ## Write dist/install.yaml (CRD + namespace + RBAC + Deployment)
	@mkdir -p dist
	$(BIN)/python hack/manifests.py > dist/install.yaml

bench: $(STAMP) $(TOOLS_ENV) ## Benchmarks (not timed tests): writes bench/results.json
	@set -a; source $(TOOLS_ENV); set +a; $(BIN)/python -m bench

chaos: $(STAMP) $(TOOLS_ENV) ## The full fault suite
	@set -a; source $(TOOLS_ENV); set +a; HPO_CHAOS_FULL=1 $(BIN)/pytest -m chaos $(PYTEST_ARGS)

emulator: $(STAMP) ## Run the SageMaker emulator on 127.0.0.1:8090
	$(BIN)/hpo-operator emulator --port 8090

VERSION := $(shell grep -m1 '^version' pyproject.toml | cut -d'"' -f2)
# The image's tag, and its base: empty keeps the Dockerfile's (python:3.11-slim). The container
# tests build on a local Debian base (hack/base-image.sh), as no registry is reachable there.
IMAGE ?= hpo-operator:$(VERSION)
PYTHON_IMAGE ?=

image: ## Build the container image (needs Docker; IMAGE=..., PYTHON_IMAGE=... to override)
	docker build --network host --build-arg VERSION=$(VERSION) \
	  $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE)) -t $(IMAGE) .

docker-up: ## Start a Docker engine (no bridge, no iptables) unless one answers
	@hack/docker-up.sh

lock: ## Re-resolve requirements/lock.txt from pyproject.toml (emulator/ and devtools/ deps: tests/ship/test_lock_covers.py)
	$(BIN)/python -m pip install -q uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -q -o requirements/lock.txt

audit: $(STAMP) ## Vulnerability audit of the locked dependencies (skips, saying why, when offline)
	hack/audit.sh

policy: $(TOOLS_ENV) ## kube-score policy scan of the rendered chart (builds kube-score once)
	@set -a; source $(TOOLS_ENV); set +a; hack/policy-scan.sh

clean: ## Remove the venv and local state (cached binaries stay in ~/.cache/hpo-operator)
	rm -rf $(VENV) .cache .cluster .node dist
