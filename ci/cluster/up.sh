#!/usr/bin/env bash
# Starts a Kubernetes cluster with real pods on this machine, every node a network namespace of
# its own: the control-plane node runs etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, CoreDNS and metrics-server, and like every worker its containerd (runc, CNI
# bridge), kubelet and kube-proxy (iptables); each a process with its PID file and log under
# $CLUSTER_STATE. CLUSTER_NODES [3] counts the nodes (1 for a quick single-node run).
# Certificates and kubeconfigs are generated per run; the admin kubeconfig is
# $CLUSTER_STATE/admin.kubeconfig (the user's ~/.kube/config is never read or written). Needs
# root and the binaries of ci/cluster/build.sh.
#
#   ci/cluster/up.sh            # prints KUBECONFIG=... and CLUSTER_NETNS=... when ready
#   ip netns exec "$CLUSTER_NETNS" kubectl --kubeconfig "$KUBECONFIG" get pods -A
#   ci/cluster/down.sh          # stops it and restores the host
#
# What an earlier run of the same state directory left behind (a run killed without its
# teardown) is cleared first, by down.sh. Each component gets a bounded wait; one that does
# not come up stops the script with its name and the tail of its log, and down.sh runs.
#
# An OCI registry runs beside the control plane at $CLUSTER_REGISTRY (crane registry serve;
# blobs on disk under $CLUSTER_STATE/registry), and every node's containerd pulls from it over
# plain HTTP; an OpenTelemetry collector at $CLUSTER_OTLP_ENDPOINT writes the spans it
# receives to $CLUSTER_STATE/traces/spans.jsonl; and a log store (VictoriaLogs) at
# $CLUSTER_LOGS_URL receives every pod's lines from a log agent on each node (otelcol-logs).
#
# The steps are the files of ci/cluster/up/, sourced in the order below; they share this
# script's variables and helpers (ci/cluster/lib.sh, ci/cluster/node-lib.sh).
#
# Environment: CLUSTER_NAME, CLUSTER_STATE, CLUSTER_NODES (ci/cluster/lib.sh); UP_TIMEOUT [60]
# seconds per component.
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------
# Preconditions: the reason, not a skip.

[[ $EUID -eq 0 ]] || cluster_die "root is needed (network namespace, mounts, cgroups, containerd)"
for bin in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns pause; do
  [[ -x "$CLUSTER_BIN/$bin" ]] || cluster_die "$CLUSTER_BIN/$bin missing: run ci/install-tools.sh"
done
for tool in crane otelcol-test metrics-server victoria-logs otelcol-logs; do
  [[ -x "$TOOLS_BIN/$tool" ]] || cluster_die "$TOOLS_BIN/$tool missing: run ci/install-tools.sh"
done
for tool in containerd ctr runc etcd ip nsenter setsid iptables conntrack openssl curl findmnt; do
  command -v "$tool" >/dev/null || cluster_die "$tool not found: run ci/install-tools.sh"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  cluster_die "CNI plugins missing in /usr/lib/cni (Debian package containernetworking-plugins)"
grep -qw overlay /proc/filesystems || cluster_die "the kernel has no overlay filesystem"

# shellcheck source=ci/cluster/node-lib.sh
source "$REPO_ROOT/ci/cluster/node-lib.sh"

# A failure from here on tears down what was started.
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    cluster_log "start-up failed: tearing down"
    "$REPO_ROOT/ci/cluster/down.sh" >&2 || true
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The steps

UP_STEPS="$REPO_ROOT/ci/cluster/up"
# shellcheck source=ci/cluster/up/host-state.sh
source "$UP_STEPS/host-state.sh"
# shellcheck source=ci/cluster/up/pki.sh
source "$UP_STEPS/pki.sh"
# shellcheck source=ci/cluster/up/network.sh
source "$UP_STEPS/network.sh"
# shellcheck source=ci/cluster/up/control-plane.sh
source "$UP_STEPS/control-plane.sh"
# shellcheck source=ci/cluster/up/registry-collector.sh
source "$UP_STEPS/registry-collector.sh"
# shellcheck source=ci/cluster/up/log-store.sh
source "$UP_STEPS/log-store.sh"
# shellcheck source=ci/cluster/up/nodes.sh
source "$UP_STEPS/nodes.sh"
# shellcheck source=ci/cluster/up/addons.sh
source "$UP_STEPS/addons.sh"

cluster_log "ready in ${SECONDS}s: $CLUSTER_NODES node(s)"
printf 'KUBECONFIG=%s\nCLUSTER_NETNS=%s\nCLUSTER_REGISTRY=%s\nCLUSTER_OTLP_ENDPOINT=%s\nCLUSTER_LOGS_URL=%s\n' \
  "$CLUSTER_KUBECONFIG" "$CLUSTER_NETNS" "$CLUSTER_REGISTRY" "$CLUSTER_OTLP_ENDPOINT" "$CLUSTER_LOGS_URL"
