#!/usr/bin/env bash
# Runs the service locally on 127.0.0.1:8080 (override with HOST/PORT and the other env vars
# from the README) after installing the pinned toolchain.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/ci/install-tools.sh"

cd "$REPO_ROOT"
export HOST="${HOST:-127.0.0.1}"
log "serving on http://$HOST:${PORT:-8080} (Ctrl-C stops it gracefully)"
exec python -m app
