#!/usr/bin/env bash
# Runs the service locally on 127.0.0.1:8080 (override with HOST/PORT and the other env vars
# from the README). Installs only what serving needs: the runtime venv from requirements.lock
# (hash-checked, cached in $TOOLS_CACHE/run-venv, see ci/venv.sh). The test toolchain is
# ci/install-tools.sh's job, not this one's.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_VENV="$TOOLS_CACHE/run-venv"
"$REPO_ROOT/ci/venv.sh" run-venv "$REPO_ROOT/requirements.lock" "$RUN_VENV"

cd "$REPO_ROOT"
export HOST="${HOST:-127.0.0.1}"
log "serving on http://$HOST:${PORT:-8080} (Ctrl-C stops it gracefully)"
exec "$RUN_VENV/bin/python" -m app
