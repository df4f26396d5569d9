#!/usr/bin/env bash
# Runs every test of the project: installs the pinned toolchain (cached), then pytest,
# which drives the app, the chart, the linters and the image checks.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/ci/install-tools.sh"

cd "$REPO_ROOT"
log "pytest"
exec python -m pytest "$@"
