# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of the test cluster scripts (up.sh, down.sh, node.sh,
# load-image.sh, build.sh, smoke.sh). Sourced, never executed.
#
# Environment (defaults in brackets):
#   CLUSTER_NAME   [production-api]  names the network namespaces and the cgroup root
#   CLUSTER_STATE  [$TOOLS_CACHE/cluster/state-$CLUSTER_NAME]  certificates, kubeconfig, data,
#                  logs and PID files of one cluster; wiped by up.sh, kept by down.sh for
#                  reading the logs
#   CLUSTER_NODES  [3]  1 to 3: the control-plane node, then workers
#
# Every node is a network namespace of its own with its containerd, kubelet and kube-proxy,
# its pod bridge and a /24 of pods, and its log agent; the control-plane node also runs etcd,
# the control plane, CoreDNS, the registry, the collector, the log store and metrics-server.
# With more than one node, a namespace of their own holds the bridge that joins the nodes, and
# every node routes the other nodes' pod ranges through it (what kindnetd does). Nothing routes or masquerades out
# of the cluster: its only addresses are loopback, the pod bridges and the node links.

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

CLUSTER_NAME="${CLUSTER_NAME:-production-api}"
CLUSTER_STATE="${CLUSTER_STATE:-$TOOLS_CACHE/cluster/state-$CLUSTER_NAME}"
CLUSTER_NODES="${CLUSTER_NODES:-3}"
[[ "$CLUSTER_NODES" =~ ^[123]$ ]] || die "cluster: CLUSTER_NODES is '$CLUSTER_NODES'; 1, 2 or 3 nodes"
# The control-plane node's namespace; the workers' are "$CLUSTER_NETNS-n1" and so on, the
# node links' "$CLUSTER_NETNS-links".
CLUSTER_NETNS="pa-$CLUSTER_NAME"
CLUSTER_NETNS_PATH="/run/netns/$CLUSTER_NETNS"
LINKS_NETNS="$CLUSTER_NETNS-links"
# The cgroup (in every v1 hierarchy, or under the v2 root) that holds the nodes' cgroup roots,
# one per node beside each other ($CLUSTER_CGROUP/n0, ...): never one inside another, since a
# kubelet removes the pod cgroups under its root that it does not know.
CLUSTER_CGROUP="production-api-cluster-$CLUSTER_NAME"
# The tools module's binaries, built by ci/cluster/build.sh; the directory is keyed on the
# module (go.mod, go.sum, main packages) and the version flags.
CLUSTER_TOOLS_DIR="$REPO_ROOT/ci/cluster/tools"
CLUSTER_KUBECONFIG="$CLUSTER_STATE/admin.kubeconfig"

# Addresses. Node N's pod bridge has 10.88.N.1, which is also its node IP (the kubelet
# serves on it); its pods get the rest of 10.88.N.0/24. Node links are 10.87.0.0/24.
CLUSTER_BRIDGE=pa-br0
CNI_NETWORK="production-api-$CLUSTER_NAME"
CLUSTER_POD_CIDR=10.88.0.0/16
LINKS_CIDR=10.87.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
CLUSTER_DOMAIN=cluster.local
# The control-plane node: the API server, CoreDNS, the registry and the collector listen on
# its node IP.
CONTROL_PLANE_IP=10.88.0.1
# The cluster's OCI registry (crane registry serve, plain HTTP, blobs under the state
# directory): charts and images are pushed here and the node pulls from it.
CLUSTER_REGISTRY="$CONTROL_PLANE_IP:5000"
# The cluster's OpenTelemetry collector (ci/otelcol): OTLP/HTTP for the pods, received spans
# as OTLP JSON lines in $CLUSTER_STATE/traces/spans.jsonl.
CLUSTER_OTLP_ENDPOINT="http://$CONTROL_PLANE_IP:4318"
# The cluster's log store (VictoriaLogs, data under $CLUSTER_STATE/logstore): every node's
# log agent (ci/logagent, otelcol-logs) sends its pods' lines here over OTLP/HTTP; queries
# are LogsQL on $CLUSTER_LOGS_URL/select/logsql/query.
CLUSTER_LOGS_URL="http://$CONTROL_PLANE_IP:9428"

# Global (not per network namespace) sysctls the kubelets set at start-up, and the inotify
# limit up.sh raises (every kubelet and containerd takes instances of it); down.sh restores
# them from $CLUSTER_STATE/host-sysctls.
HOST_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory fs.inotify.max_user_instances)
INOTIFY_INSTANCES=1024

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

# node_select N: the variables of node N (0 is the control-plane node) for the functions
# that set up, stop or start one node: NODE_ID (n0, n1, ...), NODE_NAME (kind's names:
# <cluster>-control-plane, <cluster>-worker, <cluster>-worker2), NODE_NETNS(_PATH), NODE_DIR
# (its containerd, kubelet and CNI state), NODE_IP, NODE_POD_CIDR, NODE_LINK_IP.
node_select() {
  NODE_INDEX="$1"
  NODE_ID="n$1"
  case "$1" in
    0) NODE_NAME="$CLUSTER_NAME-control-plane" NODE_NETNS="$CLUSTER_NETNS" ;;
    1) NODE_NAME="$CLUSTER_NAME-worker" NODE_NETNS="$CLUSTER_NETNS-n1" ;;
    *) NODE_NAME="$CLUSTER_NAME-worker$1" NODE_NETNS="$CLUSTER_NETNS-n$1" ;;
  esac
  NODE_NETNS_PATH="/run/netns/$NODE_NETNS"
  NODE_DIR="$CLUSTER_STATE/nodes/$NODE_ID"
  NODE_IP="10.88.$1.1"
  NODE_POD_CIDR="10.88.$1.0/24"
  NODE_LINK_IP="10.87.0.$(($1 + 1))"
}

# in_netns CMD...: runs CMD in the control-plane node's network namespace only (nsenter, not
# `ip netns exec`, which also remounts /sys and hides the cgroup mounts from the kubelet).
in_netns() { nsenter --net="$CLUSTER_NETNS_PATH" -- "$@"; }

# kubectl against the cluster, from inside its namespace; ctr against node N's containerd.
cluster_kubectl() { in_netns "$CLUSTER_BIN/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }
node_ctr() {
  ctr --address "$CLUSTER_STATE/nodes/n$1/containerd/containerd.sock" --namespace k8s.io "${@:2}"
}

cluster_log() { printf '==> cluster: %s\n' "$*" >&2; }
cluster_die() { die "cluster: $*"; }

# start NAME NETNS CMD...: runs CMD in the network namespace NETNS, in a session of its own
# (so a terminal's Ctrl-C or hang-up reaches only the script), output in logs/NAME.log and
# its PID in pids/NAME.pid.
start() {
  local name="$1" netns="$2"
  shift 2
  setsid nsenter --net="/run/netns/$netns" -- "$@" </dev/null >>"$CLUSTER_STATE/logs/$name.log" 2>&1 &
  printf '%s\n' "$!" >"$CLUSTER_STATE/pids/$name.pid"
}

# wait_for NAME DESCRIPTION CMD...: retries CMD (quietly) until it succeeds; stops with the
# daemon's log tail when its process exits or UP_TIMEOUT [60] seconds pass.
wait_for() {
  local name="$1" what="$2" pid log="$CLUSTER_STATE/logs/$1.log"
  shift 2
  pid="$(<"$CLUSTER_STATE/pids/$name.pid")"
  if WAIT_INTERVAL=0.2 wait_until "${UP_TIMEOUT:-60}" ready_or_exited "$pid" "$@" &&
    kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  tail -n 40 "$log" >&2
  kill -0 "$pid" 2>/dev/null || cluster_die "$name exited before $what (log: $log)"
  cluster_die "$name: no $what after ${UP_TIMEOUT:-60}s (log: $log)"
}
ready_or_exited() {
  local pid="$1"
  shift
  "$@" >/dev/null 2>&1 || ! kill -0 "$pid" 2>/dev/null
}

# scratch_image NAME VERSION BINARY: builds localhost/NAME:VERSION-<binary digest> with podman
# unless its store has it (FROM scratch, BINARY as /bin/NAME its entry point, user 65534) and
# prints that name; for the images of the smoke test's own components (nothing can be pulled).
scratch_image() {
  local name="$1" version="$2" binary="$3" ref ctx
  ref="localhost/$name:$version-$(sha256sum "$binary" | cut -c1-12)"
  if ! "$REPO_ROOT/ci/podman.sh" image exists "$ref"; then
    ctx="$(mktemp -d)"
    cp "$binary" "$ctx/$name"
    printf 'FROM scratch\nCOPY %s /bin/%s\nUSER 65534:65534\nENTRYPOINT ["/bin/%s"]\n' \
      "$name" "$name" "$name" >"$ctx/Containerfile"
    "$REPO_ROOT/ci/podman.sh" build --quiet --format docker --tag "$ref" \
      --file "$ctx/Containerfile" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  printf '%s\n' "$ref"
}
