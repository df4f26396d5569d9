# shellcheck shell=bash
# One node's daemons, for ci/cluster/up.sh (step up/nodes.sh) and ci/cluster/node.sh: its
# containerd (its own root, state, sockets and CNI bridge; runc with cgroupfs; the pause image
# imported), kubelet (its own certificates, root and pod log directories, cgroup root) and
# kube-proxy (iptables), each in the node's network namespace, and its log agent (otelcol-logs:
# the node's pod log files to the log store). The functions act on the node chosen by
# node_select (ci/cluster/lib.sh). Sourced after ci/cluster/lib.sh.

S="$CLUSTER_STATE"
PKI="$S/pki"
PAUSE_IMAGE="localhost/production-api-pause:$KUBERNETES_VERSION"

# The pod sandbox image: the static pause program, FROM scratch (nothing can be pulled here).
PAUSE_TAR="$TOOLS_CACHE/cluster/pause-$(sha256sum "$CLUSTER_BIN/pause" | cut -c1-12).tar"

pause_image() {
  [[ ! -s "$PAUSE_TAR" ]] || return 0
  local ctx
  ctx="$(mktemp -d)"
  cp "$CLUSTER_BIN/pause" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
  "$REPO_ROOT/ci/podman.sh" build --quiet --format docker --tag "$PAUSE_IMAGE" \
    --file "$ctx/Containerfile" "$ctx" >/dev/null
  "$REPO_ROOT/ci/podman.sh" save --format docker-archive --output "$PAUSE_TAR.tmp" "$PAUSE_IMAGE" 2>/dev/null
  mv -f "$PAUSE_TAR.tmp" "$PAUSE_TAR"
  rm -rf "$ctx"
}

# node_cgroup: the selected node's cgroup root, beside the other nodes' (never inside one: a
# kubelet removes the pod cgroups under its root that it does not know). On cgroup v1 it
# exists in every hierarchy, and cpuset needs its CPUs and memory nodes copied down.
node_cgroup() {
  local hierarchy dir
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ "$(stat -fc %T "$hierarchy")" == cgroupfs ]] || continue
    for dir in "$CLUSTER_CGROUP" "$CLUSTER_CGROUP/$NODE_ID"; do
      mkdir -p "$hierarchy$dir"
      if [[ -f "${hierarchy}cpuset.cpus" ]]; then
        cat "${hierarchy}cpuset.cpus" >"$hierarchy$dir/cpuset.cpus"
        cat "${hierarchy}cpuset.mems" >"$hierarchy$dir/cpuset.mems"
      fi
    done
  done
  if [[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]]; then
    mkdir -p "/sys/fs/cgroup/$CLUSTER_CGROUP/$NODE_ID"
  fi
}

# node_configure: the selected node's directories and configuration files.
node_configure() {
  local d="$NODE_DIR"
  mkdir -p "$d"/{config,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,logagent}
  node_cgroup
  cat >"$d/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CLUSTER_BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]],
        "dataDir": "$d/cni/ipam"
      }
    }
  ]
}
EOF
  cat >"$d/config/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$d/containerd/containerd.sock"

[ttrpc]
  address = "$d/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc create.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/containerd/certs.d"
EOF
  # The cluster's own registry speaks plain HTTP.
  mkdir -p "$d/containerd/certs.d/$CLUSTER_REGISTRY"
  cat >"$d/containerd/certs.d/$CLUSTER_REGISTRY/hosts.toml" <<EOF
server = "http://$CLUSTER_REGISTRY"

[host."http://$CLUSTER_REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
  cat >"$d/config/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server-$NODE_ID.crt
tlsPrivateKeyFile: $PKI/kubelet-server-$NODE_ID.key
containerRuntimeEndpoint: unix://$d/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CLUSTER_CGROUP/$NODE_ID
failCgroupV1: false
failSwapOn: false
clusterDNS: [$CONTROL_PLANE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $S/config/resolv.conf
# Container GC removes the log directories of pods it does not know: one directory per node.
podLogsDir: $d/pod-logs
serializeImagePulls: false
# Pods are synced (and updated Secret/ConfigMap volumes written) every 10 s instead of every
# minute: a Prometheus Operator's configuration change reaches its Prometheus in seconds.
syncFrequency: 10s
# The images were imported, not pulled: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
rotateCertificates: false
EOF
  cat >"$d/config/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
# Every node's pods: traffic from a pod of another node to a Service is not masqueraded.
clusterCIDR: $CLUSTER_POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the conntrack table size and timeouts alone: they are host-wide settings.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# node_start: the selected node's log agent, containerd (with the pause image), kubelet and
# kube-proxy, each waited for; not the node's Ready condition (node_ready).
node_start() {
  local id="$NODE_ID" netns="$NODE_NETNS" d="$NODE_DIR"
  # The log agent (ci/logagent/config.yaml, copied by up/log-store.sh) tails the node's pod log
  # directory from before the first pod; its read offsets in $d/logagent let a restarted agent
  # (node.sh stop and start) go on where it stopped. Ready once its offset store is open.
  LOGAGENT_INCLUDE="$d/pod-logs/*/*/*.log" LOGAGENT_STORAGE="$d/logagent" \
    LOGAGENT_ENDPOINT="$CLUSTER_LOGS_URL/insert/opentelemetry/v1/logs" LOGAGENT_NODE="$NODE_NAME" \
    start "logagent-$id" "$netns" "$TOOLS_BIN/otelcol-logs" --config "$S/config/logagent.yaml"
  wait_for "logagent-$id" "its offset store" compgen -G "$d/logagent/receiver_*"
  start "containerd-$id" "$netns" containerd --config "$d/config/containerd.toml"
  wait_for "containerd-$id" "API" node_ctr "$NODE_INDEX" version
  node_ctr "$NODE_INDEX" images import "$PAUSE_TAR" >/dev/null
  start "kubelet-$id" "$netns" "$CLUSTER_BIN/kubelet" --config "$d/config/kubelet.yaml" \
    --kubeconfig "$S/kubelet-client-$id.kubeconfig" --root-dir "$d/kubelet" \
    --cert-dir "$d/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start "kube-proxy-$id" "$netns" "$CLUSTER_BIN/kube-proxy" --config "$d/config/kube-proxy.yaml"
  wait_for "kubelet-$id" "/healthz" nsenter --net="$NODE_NETNS_PATH" -- \
    curl -fsS http://127.0.0.1:10248/healthz
  wait_for "kube-proxy-$id" "/healthz" nsenter --net="$NODE_NETNS_PATH" -- \
    curl -fsS http://127.0.0.1:10256/healthz
}

# node_ready: the selected node is Ready.
node_ready() {
  wait_for "kubelet-$NODE_ID" "Ready node $NODE_NAME" \
    cluster_kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
}
