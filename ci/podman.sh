#!/usr/bin/env bash
# Runs podman with a configuration that works on hosts where its defaults cannot start
# containers: default ulimits no higher than the host's hard limits (raising them needs
# CAP_SYS_RESOURCE), and on cgroup v1 / hybrid hosts runc instead of crun (crun refuses
# "hybrid" mode). The generated containers.conf is used only when CONTAINERS_CONF is unset.
#   ci/podman.sh <podman arguments...>
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -z "${CONTAINERS_CONF:-}" ]]; then
  conf_dir="$TOOLS_CACHE/podman"
  mkdir -p "$conf_dir"
  nofile="$(ulimit -Hn)"
  nproc="$(ulimit -Hu)"
  pid_max="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)"
  [[ "$nofile" == unlimited ]] && nofile=1048576
  if [[ "$nproc" == unlimited ]] || ((nproc > pid_max)); then nproc="$pid_max"; fi
  runtime=""
  if [[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]] && command -v runc >/dev/null 2>&1; then
    runtime='runtime = "runc"'
  fi
  conf="$conf_dir/containers.conf"
  tmp="$(mktemp "$conf_dir/containers.conf.XXXXXX")"
  cat >"$tmp" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
${runtime}
CONF
  mv -f "$tmp" "$conf"
  export CONTAINERS_CONF="$conf"
fi

exec podman "$@"
