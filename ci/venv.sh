#!/usr/bin/env bash
# Makes a Python venv from a hash-pinned lock file, in the cache outside the repository, or
# reuses it:
#
#   ci/venv.sh NAME LOCK VENV
#
# The venv is recreated whenever LOCK or the interpreter changes: the key (the lock's sha256
# and the interpreter's path) is kept in $TOOLS_CACHE/stamps/NAME. Packages are installed with
# pip --require-hashes, so nothing outside the lock gets in. The app itself is not installed:
# it is imported from the repository root. Used by ci/install-tools.sh (the project venv, from
# requirements-dev.lock) and ci/run.sh (the runtime venv, from requirements.lock). Prints one
# line; pip's output goes to $TOOLS_CACHE/logs/NAME-*.log and is shown on failure.
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 3 ]] || die "venv: usage: ci/venv.sh NAME LOCK VENV"
NAME="$1" LOCK="$2" VENV="$3"
[[ -f "$LOCK" ]] || die "venv: no lock file $LOCK"

STAMP="$TOOLS_CACHE/stamps/$NAME"
LOGS="$TOOLS_CACHE/logs"
mkdir -p "$(dirname "$STAMP")" "$LOGS"

# One writer per venv; a second run for the same venv waits here, then finds it current.
exec 8>"$TOOLS_CACHE/$NAME.lock"
flock -w 1800 8

# The real interpreter: not a pyenv shim, and not the project venv's python3, which
# ci/lib.sh puts first on PATH.
PYTHON="$(PATH="${PATH//"$PY_VENV/bin:"/}" python3 -c 'import sys; print(sys.executable)')"
[[ "$PYTHON" != "$TOOLS_CACHE"/* ]] || die "venv: python3 on PATH is a venv's ($PYTHON)"

report() { log "$(printf '%-15s %-18s %s' "$NAME" "$(basename "$LOCK")" "$1")"; }

run_logged() {
  local log_file="$LOGS/$NAME-$1.log"
  shift
  if ! "$@" >"$log_file" 2>&1; then
    tail -n 60 "$log_file" >&2
    die "venv: $NAME: $* failed (full log: $log_file)"
  fi
}

key="$(sha256sum "$LOCK" | cut -d' ' -f1) $PYTHON"
if "$VENV/bin/python" -c '' 2>/dev/null && [[ -f "$STAMP" && "$(<"$STAMP")" == "$key" ]]; then
  report "already present"
  exit 0
fi
start=$SECONDS
rm -f "$STAMP"
run_logged create "$PYTHON" -m venv --clear "$VENV"
run_logged pip-install "$VENV/bin/python" -m pip install \
  --disable-pip-version-check --no-input --require-hashes -r "$LOCK"
printf '%s\n' "$key" >"$STAMP"
report "installed ($((SECONDS - start)) s)"
