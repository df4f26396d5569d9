#!/usr/bin/env bash
# Stops the test cluster of $CLUSTER_STATE and restores the host: stops every daemon of every
# node by its PID file and every pod process (in the cluster's cgroups, or a containerd shim of
# one of its sockets), unmounts what the kubelets and containerds mounted under the state
# directory, removes the cluster's cgroups, deletes the nodes' and the node links' network
# namespaces (bridges, veths, routes, iptables rules and per-namespace sysctls go with them),
# restores the global sysctls the kubelets and up.sh changed and removes the host directories
# the run created: every node the state directory has, whatever CLUSTER_NODES is now. Safe to
# run twice, and after a run that was killed without its teardown; up.sh runs it first. The
# logs stay in $CLUSTER_STATE/logs.
#
#   ci/cluster/down.sh [--quiet]
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUIET=0
[[ "${1:-}" == --quiet ]] && QUIET=1
S="$CLUSTER_STATE"
say() { ((QUIET)) || cluster_log "$*"; }

[[ $EUID -eq 0 ]] || cluster_die "root is needed to stop the cluster"

# is_ours PID NAME: the process is alive and is the one this cluster started (its command line
# names the state directory or the cluster's binaries), not a recycled PID.
is_ours() {
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$S"* || "$cmdline" == *"$CLUSTER_BIN"* ]]
}

# stop_pids SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL what is left.
stop_pids() {
  local wait="$1"
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  WAIT_INTERVAL=0.1 wait_until "$wait" none_alive "$@" || kill -KILL "$@" 2>/dev/null || true
}
# none_alive PID...: none of them runs. A zombie counts as gone: it has exited, and its reaper
# is whichever process adopted it (the host's init, which may reap only every second or two).
none_alive() {
  local pid state
  for pid in "$@"; do
    # The state follows the command name, which is in parentheses and may hold spaces.
    state="$(sed -n 's/.*) \([A-Za-z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)" || continue
    [[ -z "$state" || "$state" == Z ]] || return 1
  done
}

# cgroup_pids: every process in the cluster's cgroups (pods and their sandboxes).
cgroup_pids() {
  local root
  for root in /sys/fs/cgroup/*/"$CLUSTER_CGROUP" /sys/fs/cgroup/"$CLUSTER_CGROUP"; do
    if [[ -d "$root" ]]; then
      find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null || true
    fi
  done
}

# shim_pids: containerd shims serving this cluster's containerd (they outlive a killed
# containerd and hold the pods' mounts).
shim_pids() {
  local proc cmdline
  for proc in /proc/[0-9]*; do
    [[ "$(cat "$proc/comm" 2>/dev/null)" == containerd-shim* ]] || continue
    cmdline="$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null)" || continue
    if [[ "$cmdline" == *"$S/nodes/"*"/containerd/containerd.sock"* ]]; then
      printf '%s\n' "${proc#/proc/}"
    fi
  done
}

# 1. The daemons, clients first, etcd last; per node: kube-proxy-n0, kubelet-n0, ...
if [[ -d "$S/pids" ]]; then
  say "stopping the cluster's processes"
  for name in 'logagent-*' coredns metrics-server 'kube-proxy-*' 'kubelet-*' kube-scheduler \
    kube-controller-manager kube-apiserver collector log-store registry 'containerd-*' etcd; do
    for pid_file in "$S/pids/"$name.pid; do
      [[ -f "$pid_file" ]] || continue
      pid="$(<"$pid_file")"
      if is_ours "$pid"; then
        stop_pids 10 "$pid"
      fi
      rm -f "$pid_file"
    done
  done
fi

# 2. Pod processes and shims, a few rounds: a shim may restart nothing, but processes can
# still be exiting from the first round.
for _ in 1 2 3; do
  mapfile -t pids < <(cgroup_pids; shim_pids | sort -un)
  ((${#pids[@]})) || break
  stop_pids 5 "${pids[@]}"
done

# 3. Mounts under the state directory (overlay root filesystems, sandbox /dev/shm, pod
# network namespaces, projected volumes, the kubelet's shared bind mount), deepest first.
if [[ -d "$S" ]]; then
  for _ in 1 2 3; do
    mapfile -t mounts < <(findmnt -rn -o TARGET | grep -F -- "$S/" | awk '{print length, $0}' |
      sort -rn | cut -d' ' -f2-)
    mapfile -t self < <(findmnt -rn -o TARGET | grep -Fx -- "$S")
    mounts+=("${self[@]}")
    ((${#mounts[@]})) || break
    say "unmounting ${#mounts[@]} mounts under $S"
    for target in "${mounts[@]}"; do
      umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
    done
  done
fi

# 4. Cgroups, leaves first.
for root in /sys/fs/cgroup/*/"$CLUSTER_CGROUP" /sys/fs/cgroup/"$CLUSTER_CGROUP"; do
  [[ -d "$root" ]] || continue
  find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ ! -d "$root" ]] || printf 'cluster: cgroup %s could not be removed\n' "$root" >&2
done

# 5. The network namespaces: the nodes' and the node links'.
for netns_path in "$CLUSTER_NETNS_PATH" "$CLUSTER_NETNS_PATH"-n[0-9] "/run/netns/$LINKS_NETNS"; do
  [[ -e "$netns_path" ]] || continue
  say "deleting network namespace ${netns_path##*/}"
  ip netns del "${netns_path##*/}" 2>/dev/null || { umount "$netns_path" 2>/dev/null; rm -f "$netns_path"; }
done

# 6. Global sysctls, and the host directories and mounts the run created.
if [[ -f "$S/host-sysctls" ]]; then
  while IFS='=' read -r key value; do
    [[ "$(sysctl -n "$key")" == "$value" ]] || sysctl -q -w "$key=$value"
  done <"$S/host-sysctls"
  rm -f "$S/host-sysctls"
fi
if [[ -f "$S/host-created-mounts" ]]; then
  while read -r target; do
    # Only when no other network namespace is left in it.
    if mountpoint -q "$target" && [[ -z "$(ls -A "$target")" ]]; then
      umount "$target" 2>/dev/null || true
    fi
  done <"$S/host-created-mounts"
  rm -f "$S/host-created-mounts"
fi
# containerd's shim sockets of this cluster: a shim killed outright leaves its socket, named
# by the SHA-256 of containerd's address, the namespace and the task id (containerd 1.6).
for node_dir in "$S"/nodes/*/; do
  for task in "${node_dir}containerd/state/io.containerd.runtime.v2.task/k8s.io"/*; do
    [[ -e "$task" ]] || continue
    hash="$(printf '%s' "${node_dir}containerd/containerd.sock/k8s.io/${task##*/}" | sha256sum | cut -d' ' -f1)"
    rm -f "/run/containerd/s/$hash"
  done
done
# The CNI result cache entries of this cluster's network (and the pods' loopback entries).
for result in /var/lib/cni/results/"$CNI_NETWORK"-*; do
  [[ -e "$result" ]] || continue
  id="${result#/var/lib/cni/results/"$CNI_NETWORK"-}"
  rm -f "$result" "/var/lib/cni/results/cni-loopback-${id%-*}-lo"
done
if [[ -f "$S/host-created-dirs" ]]; then
  kept=()
  while read -r dir; do
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -empty -delete 2>/dev/null || true
    [[ ! -d "$dir" ]] || kept+=("$dir")
  done <"$S/host-created-dirs"
  if ((${#kept[@]})); then
    printf 'cluster: not empty, left in place: %s\n' "${kept[*]}" >&2
    printf '%s\n' "${kept[@]}" >"$S/host-created-dirs"
  else
    rm -f "$S/host-created-dirs"
  fi
fi
say "stopped"
