#!/usr/bin/env bash
# Re-locks the dependencies declared in pyproject.toml, with hashes:
#   requirements.lock      runtime only; the image installs it with --require-hashes
#   requirements-dev.lock  runtime + dev tools; the test venv installs it with --require-hashes
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$REPO_ROOT"
compile=(uv pip compile pyproject.toml --generate-hashes --python-version 3.11
         --python-platform x86_64-manylinux_2_28)
log "requirements.lock"
"${compile[@]}" -o requirements.lock
log "requirements-dev.lock"
"${compile[@]}" --extra dev -o requirements-dev.lock
