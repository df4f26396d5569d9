# shellcheck shell=bash
# Shared paths for the ci/ scripts: where pinned tools are cached, outside the repository,
# and the environment that puts them first on PATH. Sourced, never executed.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_CACHE="${PRODUCTION_API_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/production-api}"
TOOLS_BIN="$TOOLS_CACHE/bin"
PY_VENV="$TOOLS_CACHE/venv"

export REPO_ROOT TOOLS_CACHE TOOLS_BIN PY_VENV
export HELM_PLUGINS="$TOOLS_CACHE/helm-plugins"
export HELM_CACHE_HOME="$TOOLS_CACHE/helm/cache"
export HELM_CONFIG_HOME="$TOOLS_CACHE/helm/config"
export HELM_DATA_HOME="$TOOLS_CACHE/helm/data"
export PATH="$PY_VENV/bin:$TOOLS_BIN:$PATH"

log() { printf '==> %s\n' "$*" >&2; }

# die MESSAGE: prints MESSAGE and exits 1 (scripts without named steps; those use `fail`).
# `die --status N MESSAGE` exits N instead (2 for a usage error).
die() {
  local status=1
  if [[ "${1:-}" == --status ]]; then
    status="$2"
    shift 2
  fi
  printf '%s\n' "$*" >&2
  exit "$status"
}

# wait_until SECONDS CMD...: retries CMD every WAIT_INTERVAL [1] seconds; returns 1 after
# SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep "${WAIT_INTERVAL:-1}"
  done
}

# render FILE NAME=VALUE...: prints FILE with each `${NAME}` replaced by VALUE (manifests kept
# as files, filled without a templating tool). A placeholder left without a value fails.
render() {
  local file="$1" text pair
  shift
  text="$(<"$file")"
  for pair in "$@"; do
    text="${text//"\${${pair%%=*}}"/"${pair#*=}"}"
  done
  if [[ "$text" =~ \$\{[A-Za-z_][A-Za-z0-9_]*\} ]]; then
    printf '%s: no value for %s\n' "$file" "${BASH_REMATCH[0]}" >&2
    return 1
  fi
  printf '%s\n' "$text"
}

# ---------------------------------------------------------------------------------------------
# Named steps and a failure that reads itself, for scripts that run a sequence of steps
# (ci/smoke.sh, ci/cluster/smoke.sh). `steps_begin NAME` in the script, then:
#   step WHAT      logs WHAT and makes it the current step (its time is recorded)
#   fail MESSAGE   stops the script; MESSAGE is the error of the current step
#   until_true SECONDS WHAT CMD...  waits for CMD; on time-out fails with WHAT
# A command that fails under `set -e` becomes the error too: its text, exit status and line.
# `steps_failed` in the exit trap marks where the failed step's output ends;
# `steps_report` prints the report block (the step, the error, the step's last output lines);
# `steps_stop` ends the current step in an exit trap and sets the report;
# `steps_times` prints "<seconds>\t<step>" per finished step; `steps_end` ends the recording.
# The script's stderr is copied to a file so that the report can quote what the step printed.

steps_begin() {
  STEPS_SCRIPT="$1"
  STEP=""
  STEP_ERROR=""
  STEP_STARTED=$SECONDS
  STEP_OUTPUT_FROM=0
  STEP_TIMES=()
  STEPS_STDERR="$(mktemp)"
  exec 2> >(tee -a "$STEPS_STDERR" >&2)
  set -E
  trap 'steps_on_error "$?" "${BASH_SOURCE[0]}:$LINENO" "$BASH_COMMAND"' ERR
}

step() {
  steps_close
  STEP="$*"
  STEP_STARTED=$SECONDS
  STEP_OUTPUT_FROM="$(stat -c %s "$STEPS_STDERR")"
  log "$*"
}

# steps_close: records the current step's time; no step is current afterwards.
steps_close() {
  if [[ -n "$STEP" ]]; then
    STEP_TIMES+=("$((SECONDS - STEP_STARTED))	$STEP")
  fi
  STEP=""
}

fail() {
  STEP_ERROR="$*"
  printf '%s: FAIL: %s\n' "${STEPS_SCRIPT:-$(basename "$0" .sh)}" "$*" >&2
  exit 1
}

# until_true SECONDS WHAT CMD...: wait_until, failing the step with WHAT on time-out.
until_true() {
  local seconds="$1" what="$2"
  shift 2
  wait_until "$seconds" "$@" || fail "timed out after ${seconds}s waiting for $what"
}

# steps_on_error STATUS WHERE COMMAND: the ERR trap. Only the first error of a step counts
# (the ERR trap also fires in the callers of a failed function).
steps_on_error() {
  [[ -z "$STEP_ERROR" ]] || return 0
  STEP_ERROR="\`$3\` exited $1 ($(realpath --relative-to="$REPO_ROOT" "${2%:*}"):${2##*:})"
}

# steps_failed: marks the end of the failed step's output, before the exit trap prints more
# (diagnostics). The copy of stderr is written by tee: it is given a moment to catch up.
steps_failed() {
  sleep 0.2
  STEP_OUTPUT_TO="$(stat -c %s "$STEPS_STDERR")"
}

# steps_report: the report block; nothing when no step failed.
steps_report() {
  [[ -n "$STEP" ]] || return 0
  printf '%s: FAILED step: %s\n' "$STEPS_SCRIPT" "$STEP"
  printf '%s: error: %s\n' "$STEPS_SCRIPT" "${STEP_ERROR:-interrupted}"
  printf '%s: last output of the step:\n' "$STEPS_SCRIPT"
  head -c "${STEP_OUTPUT_TO:-$(stat -c %s "$STEPS_STDERR")}" "$STEPS_STDERR" |
    tail -c +"$((STEP_OUTPUT_FROM + 1))" | grep -v "^$STEPS_SCRIPT: FAIL: " |
    tail -n 12 | sed 's/^/    | /'
}

# steps_stop STATUS [INNER_REPORT]: ends the current step, closed when STATUS is 0 and marked
# failed otherwise, and sets STEPS_REPORT to the failure report: INNER_REPORT's when that file
# is not empty (a script of named steps run by the failed step wrote its own, as ci/smoke.sh
# does with SMOKE_REPORT), else this script's own.
# shellcheck disable=SC2034  # STEPS_REPORT is read by the script that sources this file
steps_stop() {
  STEPS_REPORT=""
  if (($1 == 0)); then
    steps_close
    return 0
  fi
  steps_failed
  if [[ -n "${2:-}" && -s "$2" ]]; then
    STEPS_REPORT="$(<"$2")"
  else
    STEPS_REPORT="$(steps_report)"
  fi
}

steps_times() {
  if ((${#STEP_TIMES[@]})); then
    printf '%s\n' "${STEP_TIMES[@]}"
  fi
}

# steps_end: no more error recording (for the exit trap's own clean-up commands).
steps_end() {
  trap - ERR
  rm -f "$STEPS_STDERR"
}
