.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

.PHONY: help run check test lint image smoke kind-smoke cluster-smoke cluster-soak cluster-down bench lock reliability-report

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

run: ## Install the runtime venv only (cached) and serve on 127.0.0.1:8080 (env vars as in the README)
	./ci/run.sh

check: ## Fast loop: ruff, app and Helm 3 chart tests with the installed toolchain (installs nothing)
	./ci/check.sh

test: ## Install the pinned toolchain (cached) and run every test
	./ci/test.sh

lint: ## Run only the linters (ruff, hadolint, shellcheck, actionlint)
	./ci/test.sh tests/lint tests/image/test_image_lint.py

image: ## Build the container image (IMAGE=production-api:dev; LOCAL_BASE=1 without a registry)
	./ci/build-image.sh

smoke: ## Smoke-test chart and image on the current kube context
	./ci/smoke.sh

kind-smoke: ## Smoke test on a throw-away kind cluster (docker; KIND_EXPERIMENTAL_PROVIDER=podman KIND_OFFLINE=1: podman, nothing pulled)
	./ci/kind-smoke.sh

cluster-smoke: ## Smoke test on the project's own three-node cluster (root; KEEP_CLUSTER=1 keeps it; CLUSTER_NODES=1 for one)
	./ci/install-tools.sh
	./ci/cluster/smoke.sh

cluster-soak: ## Run the cluster smoke test SOAK_RUNS times (default 10) and report each run (root; not in make test)
	./ci/install-tools.sh
	./ci/cluster/soak.sh

cluster-down: ## Stop the cluster kept by KEEP_CLUSTER=1 make cluster-smoke; restore the host
	./ci/cluster/down.sh

bench: ## Run the benchmarks and rewrite bench/RESULTS.md
	./bench/run.sh

reliability-report: ## Rerun the reliability tests and rewrite docs/reliability.md
	./ci/reliability-report.sh

lock: ## Re-lock requirements*.lock with hashes
	./ci/lock.sh
