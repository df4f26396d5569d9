#!/usr/bin/env bash
# Takes a worker node of the running test cluster down hard, or brings it back: the smoke
# test's "a node lost" step (SMOKE_NODE_CONTROL).
#   stop   kills the node's kubelet, containerd, kube-proxy and log agent (SIGKILL, as a power
#          cut does) and takes its link to the other nodes down. Its pods keep running under their shims,
#          but nothing reaches them and nothing reports on them any more.
#   start  brings the link up and starts the daemons again; returns when the node is Ready.
#
#   ci/cluster/node.sh stop|start NODE_NAME
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/cluster/node-lib.sh
source "$REPO_ROOT/ci/cluster/node-lib.sh"

if (($# != 2)) || [[ "$1" != stop && "$1" != start ]]; then
  die --status 2 "usage: ci/cluster/node.sh stop|start NODE_NAME"
fi
[[ $EUID -eq 0 ]] || cluster_die "root is needed"
action="$1"
found=""
for ((n = 1; n <= 9; n++)); do
  node_select "$n"
  if [[ "$NODE_NAME" == "$2" && -d "$NODE_DIR" ]]; then
    found=1
    break
  fi
done
[[ -n "$found" ]] || cluster_die "$2 is not a worker node of cluster $CLUSTER_NAME"

case "$action" in
  stop)
    for daemon in kubelet containerd kube-proxy logagent; do
      pid_file="$S/pids/$daemon-$NODE_ID.pid"
      [[ -f "$pid_file" ]] || continue
      kill -KILL "$(<"$pid_file")" 2>/dev/null || true
    done
    ip -n "$LINKS_NETNS" link set "pa-$NODE_ID" down
    cluster_log "$NODE_NAME stopped: kubelet, containerd, kube-proxy and log agent killed, link down"
    ;;
  start)
    ip -n "$LINKS_NETNS" link set "pa-$NODE_ID" up
    node_start
    node_ready
    cluster_log "$NODE_NAME started again and Ready"
    ;;
esac
