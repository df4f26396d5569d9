# shellcheck shell=bash disable=SC2034
# Shared settings of the single-node test cluster scripts (up.sh, down.sh, load-image.sh,
# build.sh, smoke.sh). Sourced, never executed.
#
# Environment (defaults in brackets):
#   CLUSTER_NAME   [production-api]  names the network namespace and the cgroup root
#   CLUSTER_STATE  [$TOOLS_CACHE/cluster/state-$CLUSTER_NAME]  certificates, kubeconfig, data,
#                  logs and PID files of one cluster; wiped by up.sh, kept by down.sh for
#                  reading the logs
#
# Everything the cluster runs lives in the network namespace $CLUSTER_NETNS: etcd, the control
# plane, containerd, the kubelet, kube-proxy, CoreDNS and every pod. Its only addresses are
# loopback and the pod bridge; nothing routes or masquerades out of it.

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

CLUSTER_NAME="${CLUSTER_NAME:-production-api}"
CLUSTER_STATE="${CLUSTER_STATE:-$TOOLS_CACHE/cluster/state-$CLUSTER_NAME}"
CLUSTER_NETNS="pa-$CLUSTER_NAME"
CLUSTER_NETNS_PATH="/run/netns/$CLUSTER_NETNS"
# The cgroup (in every v1 hierarchy, or under the v2 root) that holds the pods.
CLUSTER_CGROUP="production-api-cluster-$CLUSTER_NAME"
# The tools module's binaries, built by ci/cluster/build.sh; the directory is keyed on the
# module (go.mod, go.sum, main packages) and the version flags.
CLUSTER_TOOLS_DIR="$REPO_ROOT/ci/cluster/tools"
CLUSTER_KUBECONFIG="$CLUSTER_STATE/admin.kubeconfig"

# Addresses inside the namespace. The bridge's address is the node's IP: the API server,
# the kubelet and CoreDNS listen on it, and it is every pod's gateway.
CLUSTER_BRIDGE=pa-br0
CNI_NETWORK="production-api-$CLUSTER_NAME"
POD_CIDR=10.88.0.0/24
NODE_IP=10.88.0.1
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
CLUSTER_DOMAIN=cluster.local
NODE_NAME="$CLUSTER_NAME-node"
# The cluster's OCI registry (crane registry serve, plain HTTP, blobs under the state
# directory): charts and images are pushed here and the node pulls from it.
CLUSTER_REGISTRY="$NODE_IP:5000"
# The cluster's OpenTelemetry collector (ci/otelcol): OTLP/HTTP for the pods, received spans
# as OTLP JSON lines in $CLUSTER_STATE/traces/spans.jsonl.
CLUSTER_OTLP_ENDPOINT="http://$NODE_IP:4318"

# Global (not per network namespace) sysctls the kubelet sets at start-up; down.sh restores
# them from $CLUSTER_STATE/host-sysctls.
KUBELET_HOST_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory)

# The monitoring stack's tools module (its own: it needs other k8s.io versions).
MONITORING_TOOLS_DIR="$REPO_ROOT/ci/cluster/monitoring"

cluster_bin_key() {
  {
    cat "$CLUSTER_TOOLS_DIR/go.mod" "$CLUSTER_TOOLS_DIR/go.sum" "$CLUSTER_TOOLS_DIR"/*/main.go
    cat "$MONITORING_TOOLS_DIR/go.mod" "$MONITORING_TOOLS_DIR/go.sum"
    printf '%s\n' "$KUBERNETES_VERSION" "$PROM_OPERATOR_VERSION" "$PROMETHEUS_VERSION" \
      "$(go env GOVERSION 2>/dev/null || echo nogo)"
  } | sha256sum | cut -c1-16
}
CLUSTER_BIN="$TOOLS_CACHE/cluster/bin"

# in_netns CMD...: runs CMD in the cluster's network namespace only (nsenter, not
# `ip netns exec`, which also remounts /sys and hides the cgroup mounts from the kubelet).
in_netns() { nsenter --net="$CLUSTER_NETNS_PATH" -- "$@"; }

# kubectl and ctr against the cluster, from inside its namespace.
cluster_kubectl() { in_netns "$CLUSTER_BIN/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }
ctr_() { ctr --address "$CLUSTER_STATE/containerd/containerd.sock" --namespace k8s.io "$@"; }

cluster_log() { printf '==> cluster: %s\n' "$*" >&2; }
cluster_die() { die "cluster: $*"; }
