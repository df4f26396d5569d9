#!/usr/bin/env bash
# Regenerates docs/reliability.md: runs the reliability suite with the pinned toolchain and
# writes the figures it measured. Extra arguments go to pytest.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/ci/install-tools.sh"

cd "$REPO_ROOT"
log "reliability suite -> docs/reliability.md"
exec python tests/reliability/report.py "$@"
