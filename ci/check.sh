#!/usr/bin/env bash
# `make check`: the fast loop while editing. ruff (lint and format), the app tests (some of
# them export to otelcol-test) but the two that run a real Dex and a real Redis, and the chart
# tests that need only Helm 4 (with its unittest plugin), run with the toolchain already in the
# cache. It installs nothing and needs no root: when the venv, helm or otelcol-test is missing
# or stale it says what to run and stops. `make test` runs everything. Extra arguments go to
# pytest, e.g. `ci/check.sh -k readiness -x`.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

# What needs more than the fast loop has: the chart tests of Helm 3, helm-docs, and the Gateway
# API and Prometheus Operator schemas downloaded by ci/install-tools.sh; the app tests that run
# a real issuer and a real Redis. `make test` runs them.
NEEDS_MORE_THAN_HELM=(
  -k "not helm3"
  # Authentication against a real Dex and rate limiting on a real Redis: about 1 min 45 s of
  # real processes; `make test` runs them.
  --deselect tests/app/test_auth.py
  --deselect tests/app/test_ratelimit.py
  --deselect tests/chart/test_docs.py::test_readme_is_current
  --deselect tests/chart/test_manifests.py::test_rendered_manifests_are_schema_valid
  --deselect tests/chart/test_manifests.py::test_the_validators_reject_bad_objects
)

missing=()
lock_sum="$(sha256sum "$REPO_ROOT/requirements-dev.lock" | cut -d' ' -f1)"
venv_stamp="$TOOLS_CACHE/stamps/venv"
if ! "$PY_VENV/bin/python" -c '' 2>/dev/null; then
  missing+=("the project venv ($PY_VENV)")
elif [[ ! -f "$venv_stamp" || "$(cut -d' ' -f1 "$venv_stamp")" != "$lock_sum" ]]; then
  missing+=("a project venv made from the current requirements-dev.lock")
fi
if [[ ! -x "$TOOLS_BIN/helm" ]]; then
  missing+=("helm $HELM_VERSION ($TOOLS_BIN/helm)")
elif [[ "$("$TOOLS_BIN/helm" version --template '{{.Version}}')" != "$HELM_VERSION" ]]; then
  missing+=("helm $HELM_VERSION (found $("$TOOLS_BIN/helm" version --template '{{.Version}}'))")
fi
if [[ ! -f "$HELM_PLUGINS/unittest/plugin.yaml" ]]; then
  missing+=("the helm-unittest plugin ($HELM_PLUGINS/unittest)")
fi
otelcol_key="$(cat "$REPO_ROOT"/ci/otelcol/{go.mod,go.sum,*.go} | sha256sum | cut -d' ' -f1)"
otelcol_stamp="$TOOLS_CACHE/stamps/otelcol-test"
if [[ ! -x "$TOOLS_BIN/otelcol-test" || ! -f "$otelcol_stamp" ||
  "$(<"$otelcol_stamp")" != "$otelcol_key" ]]; then
  missing+=("otelcol-test built from the current ci/otelcol ($TOOLS_BIN/otelcol-test)")
fi
if ((${#missing[@]})); then
  printf 'check: not installed: %s\n' "${missing[@]}" >&2
  cat >&2 <<EOF
check: install the pinned toolchain once with ./ci/install-tools.sh (root, for its Debian
       packages; \`make test\` runs it too), then \`make check\` again. Only the venv, no root:
       ci/venv.sh venv requirements-dev.lock $PY_VENV
EOF
  exit 1
fi

cd "$REPO_ROOT"
log "ruff check"
ruff check --output-format=concise .
log "ruff format --check"
ruff format --check .
log "pytest tests/app tests/chart (Helm 4 only) tests/lint/test_makefile.py"
exec python -m pytest -q tests/app tests/chart tests/lint/test_makefile.py \
  "${NEEDS_MORE_THAN_HELM[@]}" "$@"
