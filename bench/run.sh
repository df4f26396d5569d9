#!/usr/bin/env bash
# `make bench`: installs what the benchmark needs (wrk from Debian's packages, the project's
# Python venv via ci/install-tools.sh if it is not there yet), then runs bench/bench.py,
# which writes bench/RESULTS.md. Extra arguments go to bench/bench.py (see --help).
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../ci/lib.sh"
cd "$REPO_ROOT"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (apt)"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends wrk
fi
if ! command -v taskset >/dev/null 2>&1; then
  log "installing taskset (apt: util-linux)"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y -q util-linux
fi

PYTHON="${BENCH_PYTHON:-$PY_VENV/bin/python}"
if [ ! -x "$PYTHON" ]; then
  log "no Python venv at $PY_VENV: running ci/install-tools.sh"
  "$REPO_ROOT/ci/install-tools.sh"
fi

log "bench/bench.py $*"
BENCH_VIA_MAKE=1 exec "$PYTHON" "$REPO_ROOT/bench/bench.py" "$@"
