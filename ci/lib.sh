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
