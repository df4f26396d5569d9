#!/usr/bin/env bash
# Starts a single-node Kubernetes cluster with real pods on this machine, inside a network
# namespace of its own: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# containerd (runc, CNI bridge), the kubelet, kube-proxy (iptables) and CoreDNS, each a
# process with its PID file and log under $CLUSTER_STATE. Certificates and kubeconfigs are
# generated per run; the admin kubeconfig is $CLUSTER_STATE/admin.kubeconfig (the user's
# ~/.kube/config is never read or written). Needs root and the binaries of ci/cluster/build.sh.
#
#   ci/cluster/up.sh            # prints KUBECONFIG=... and CLUSTER_NETNS=... when ready
#   ip netns exec "$CLUSTER_NETNS" kubectl --kubeconfig "$KUBECONFIG" get pods -A
#   ci/cluster/down.sh          # stops it and restores the host
#
# What an earlier run of the same state directory left behind (a run killed without its
# teardown) is cleared first, by down.sh. Each component gets a bounded wait; one that does
# not come up stops the script with its name and the tail of its log, and down.sh runs.
#
# An OCI registry runs beside it at $CLUSTER_REGISTRY (crane registry serve; blobs on disk under
# $CLUSTER_STATE/registry), and the node's containerd pulls from it over plain HTTP; and an
# OpenTelemetry collector at $CLUSTER_OTLP_ENDPOINT writes the spans it receives to
# $CLUSTER_STATE/traces/spans.jsonl.
#
# The steps are the files of ci/cluster/up/, sourced in the order below; they share this
# script's variables and helpers.
#
# Environment: CLUSTER_NAME, CLUSTER_STATE (ci/cluster/lib.sh); UP_TIMEOUT [60] seconds per
# component.
set -euo pipefail

# shellcheck source=ci/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

UP_TIMEOUT="${UP_TIMEOUT:-60}"
S="$CLUSTER_STATE"
PKI="$S/pki"
PAUSE_IMAGE="localhost/production-api-pause:$KUBERNETES_VERSION"

# ---------------------------------------------------------------------------------------------
# Preconditions: the reason, not a skip.

[[ $EUID -eq 0 ]] || cluster_die "root is needed (network namespace, mounts, cgroups, containerd)"
for bin in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns pause; do
  [[ -x "$CLUSTER_BIN/$bin" ]] || cluster_die "$CLUSTER_BIN/$bin missing: run ci/install-tools.sh"
done
for tool in crane otelcol-test; do
  [[ -x "$TOOLS_BIN/$tool" ]] || cluster_die "$TOOLS_BIN/$tool missing: run ci/install-tools.sh"
done
for tool in containerd ctr runc etcd ip nsenter setsid iptables conntrack openssl curl findmnt; do
  command -v "$tool" >/dev/null || cluster_die "$tool not found: run ci/install-tools.sh"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  cluster_die "CNI plugins missing in /usr/lib/cni (Debian package containernetworking-plugins)"
grep -qw overlay /proc/filesystems || cluster_die "the kernel has no overlay filesystem"

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
# Helpers

# start NAME CMD...: runs CMD in the cluster's network namespace, in a session of its own (so a
# terminal's Ctrl-C or hang-up reaches only this script), output in logs/NAME.log.
start() {
  local name="$1"
  shift
  setsid nsenter --net="$CLUSTER_NETNS_PATH" -- "$@" </dev/null >"$S/logs/$name.log" 2>&1 &
  printf '%s\n' "$!" >"$S/pids/$name.pid"
}

# wait_for NAME DESCRIPTION CMD...: retries CMD (quietly) until it succeeds; stops with the
# component's log tail when its process exits or UP_TIMEOUT passes.
wait_for() {
  local name="$1" what="$2" deadline=$((SECONDS + UP_TIMEOUT)) pid
  shift 2
  pid="$(<"$S/pids/$name.pid")"
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$S/logs/$name.log" >&2
      cluster_die "$name exited before $what (log: $S/logs/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$S/logs/$name.log" >&2
      cluster_die "$name: no $what after ${UP_TIMEOUT}s (log: $S/logs/$name.log)"
    fi
    sleep 0.2
  done
}

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
# shellcheck source=ci/cluster/up/containerd.sh
source "$UP_STEPS/containerd.sh"
# shellcheck source=ci/cluster/up/registry-collector.sh
source "$UP_STEPS/registry-collector.sh"
# shellcheck source=ci/cluster/up/kubelet.sh
source "$UP_STEPS/kubelet.sh"
# shellcheck source=ci/cluster/up/proxy-dns.sh
source "$UP_STEPS/proxy-dns.sh"

cluster_log "ready in ${SECONDS}s"
printf 'KUBECONFIG=%s\nCLUSTER_NETNS=%s\nCLUSTER_REGISTRY=%s\nCLUSTER_OTLP_ENDPOINT=%s\n' \
  "$CLUSTER_KUBECONFIG" "$CLUSTER_NETNS" "$CLUSTER_REGISTRY" "$CLUSTER_OTLP_ENDPOINT"
