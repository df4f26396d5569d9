# shellcheck shell=bash
# ci/cluster/up.sh step: containerd with its own root, state and sockets; runc with cgroupfs;
# the CNI bridge; the pause image imported. Sourced by up.sh.

cluster_log "containerd"
cat >"$S/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
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
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "dataDir": "$S/cni/ipam"
      }
    }
  ]
}
EOF
cat >"$S/config/containerd.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$S/containerd/containerd.sock"

[ttrpc]
  address = "$S/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$S/containerd/opt"

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
        Root = "$S/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$S/containerd/certs.d"
EOF
# The cluster's own registry speaks plain HTTP.
mkdir -p "$S/containerd/certs.d/$CLUSTER_REGISTRY"
cat >"$S/containerd/certs.d/$CLUSTER_REGISTRY/hosts.toml" <<EOF
server = "http://$CLUSTER_REGISTRY"

[host."http://$CLUSTER_REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
start containerd containerd --config "$S/config/containerd.toml"
wait_for containerd "API" ctr_ version

# The pod sandbox image: the static pause program, FROM scratch (nothing can be pulled here).
pause_tar="$TOOLS_CACHE/cluster/pause-$(sha256sum "$CLUSTER_BIN/pause" | cut -c1-12).tar"
if [[ ! -s "$pause_tar" ]]; then
  ctx="$(mktemp -d)"
  cp "$CLUSTER_BIN/pause" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
  "$REPO_ROOT/ci/podman.sh" build --quiet --format docker --tag "$PAUSE_IMAGE" \
    --file "$ctx/Containerfile" "$ctx" >/dev/null
  "$REPO_ROOT/ci/podman.sh" save --format docker-archive --output "$pause_tar.tmp" "$PAUSE_IMAGE" 2>/dev/null
  mv -f "$pause_tar.tmp" "$pause_tar"
  rm -rf "$ctx"
fi
ctr_ images import "$pause_tar" >/dev/null
