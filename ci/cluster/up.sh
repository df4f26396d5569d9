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
# 1. Clear what an earlier run left, then record the host's state that the cluster changes.

"$REPO_ROOT/ci/cluster/down.sh" --quiet
# Never delete through a mount (a volume's source could be outside the state directory).
if findmnt -rn -o TARGET | grep -qF -- "$S/"; then
  cluster_die "mounts under $S are left after down.sh; not removing it: $(findmnt -rn -o TARGET | grep -F -- "$S/" | head -n 3)"
fi
rm -rf "$S"
mkdir -p "$S"/{pids,logs,pki,etcd,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,config,registry,traces}
chmod 0700 "$S"

for key in "${KUBELET_HOST_SYSCTLS[@]}"; do
  printf '%s=%s\n' "$key" "$(sysctl -n "$key")"
done >"$S/host-sysctls"
# Directories outside the state directory that containerd, CNI and `ip netns` create when
# missing; down.sh removes the ones that were not there before (when empty of other users).
for dir in /run/netns /run/containerd /var/lib/cni; do
  [[ -e "$dir" ]] || printf '%s\n' "$dir"
done >"$S/host-created-dirs"
mountpoint -q /run/netns 2>/dev/null || echo /run/netns >"$S/host-created-mounts"
touch "$S/host-created-mounts"

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
# 2. Certificates (ECDSA P-256, valid two days) and kubeconfigs, new for every run.

cluster_log "certificates"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 -subj "/CN=$CLUSTER_NAME-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null

# issue NAME SUBJECT USAGE [SANS]: a key and a certificate signed by the cluster CA.
issue() {
  local name="$1" subject="$2" usage="$3" sans="${4:-}"
  {
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n'
    printf 'extendedKeyUsage=%s\n' "$usage"
    [[ -n "$sans" ]] && printf 'subjectAltName=%s\n' "$sans"
  } >"$PKI/$name.ext"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 2 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

api_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
api_sans+=",DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost"
api_sans+=",IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1"
issue apiserver "/CN=kube-apiserver" serverAuth "$api_sans"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue admin "/O=system:masters/CN=$CLUSTER_NAME-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
issue kubelet-server "/CN=$NODE_NAME" serverAuth "DNS:$NODE_NAME,IP:$NODE_IP"
openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
chmod 0600 "$PKI"/*.key

# kubeconfig NAME: $S/NAME.kubeconfig with the client certificate pki/NAME.
kubeconfig() {
  cat >"$S/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $CLUSTER_NAME
    cluster:
      server: https://$NODE_IP:6443
      certificate-authority: $PKI/ca.crt
users:
  - name: $1
    user:
      client-certificate: $PKI/$1.crt
      client-key: $PKI/$1.key
contexts:
  - name: $CLUSTER_NAME
    context: {cluster: $CLUSTER_NAME, user: $1}
current-context: $CLUSTER_NAME
EOF
  chmod 0600 "$S/$1.kubeconfig"
}
for name in admin controller-manager scheduler kube-proxy kubelet-client; do
  kubeconfig "$name"
done

# ---------------------------------------------------------------------------------------------
# 3. The network namespace: loopback, and the pod bridge whose address is the node's IP.
# Forwarding and bridge netfilter are sysctls of this namespace only.

cluster_log "network namespace $CLUSTER_NETNS"
ip netns add "$CLUSTER_NETNS"
in_netns ip link set lo up
# The bridge's MAC address is set once. A bridge whose address was never set takes the lowest
# address of its ports, so it changes when a pod whose veth had it goes away; the other pods'
# ARP entries for their gateway then name an address that nothing answers to, and what they
# send to the node (DNS) or through it (Services) is lost until the entry expires: the DNS
# timeouts (EAI_AGAIN) of some runs. Locally administered, from the cluster's name.
bridge_mac="02:$(printf '%s' "$CLUSTER_NAME" | sha256sum | cut -c1-10 | sed 's/../&:/g; s/:$//')"
in_netns ip link add "$CLUSTER_BRIDGE" address "$bridge_mac" type bridge
in_netns ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$CLUSTER_BRIDGE"
in_netns ip link set "$CLUSTER_BRIDGE" up
cluster_log "pod bridge $CLUSTER_BRIDGE, $NODE_IP, MAC $bridge_mac"
# Processes of the namespace (not only pods) reach ClusterIPs: kube-proxy rewrites the
# destination after this route picked the bridge.
in_netns ip route add "$SERVICE_CIDR" dev "$CLUSTER_BRIDGE"
in_netns sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
printf 'nameserver %s\nsearch %s\noptions ndots:5\n' "$NODE_IP" "$CLUSTER_DOMAIN" >"$S/config/resolv.conf"

# ---------------------------------------------------------------------------------------------
# 4. etcd and the control plane

cluster_log "etcd"
start etcd etcd --name "$NODE_NAME" --data-dir "$S/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls "" \
  --logger zap --log-level warn
wait_for etcd "healthy endpoint" in_netns curl -fsS http://127.0.0.1:2379/health

cluster_log "kube-apiserver"
start kube-apiserver "$CLUSTER_BIN/kube-apiserver" \
  --etcd-servers http://127.0.0.1:2379 \
  --advertise-address "$NODE_IP" --secure-port 6443 --cert-dir "$S/apiserver-certs" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --client-ca-file "$PKI/ca.crt" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=false --profiling=false
wait_for kube-apiserver "/readyz" kc get --raw /readyz

cluster_log "kube-controller-manager, kube-scheduler"
start kube-controller-manager "$CLUSTER_BIN/kube-controller-manager" \
  --kubeconfig "$S/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$S/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$S/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --cert-dir "$S/controller-manager-certs" --leader-elect=false \
  --use-service-account-credentials --service-account-private-key-file "$PKI/sa.key" \
  --root-ca-file "$PKI/ca.crt" --service-cluster-ip-range "$SERVICE_CIDR" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --profiling=false
start kube-scheduler "$CLUSTER_BIN/kube-scheduler" \
  --kubeconfig "$S/scheduler.kubeconfig" \
  --authentication-kubeconfig "$S/scheduler.kubeconfig" \
  --authorization-kubeconfig "$S/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --cert-dir "$S/scheduler-certs" --leader-elect=false \
  --profiling=false
wait_for kube-controller-manager "/healthz" in_netns curl -fsSk https://127.0.0.1:10257/healthz
wait_for kube-scheduler "/healthz" in_netns curl -fsSk https://127.0.0.1:10259/healthz

# ---------------------------------------------------------------------------------------------
# 5. containerd: its own root, state and sockets; runc with cgroupfs; the CNI bridge.

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

cluster_log "registry $CLUSTER_REGISTRY"
start registry "$TOOLS_BIN/crane" registry serve --address "$CLUSTER_REGISTRY" --disk "$S/registry"
wait_for registry "/v2/" in_netns curl -fsS "http://$CLUSTER_REGISTRY/v2/"

cluster_log "OpenTelemetry collector $CLUSTER_OTLP_ENDPOINT"
cat >"$S/config/otelcol.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${CLUSTER_OTLP_ENDPOINT#http://}
exporters:
  file:
    path: $S/traces/spans.jsonl
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
EOF
start collector "$TOOLS_BIN/otelcol-test" --config "$S/config/otelcol.yaml"
# Any answer means it listens (a GET on the traces path is refused with 405).
wait_for collector "OTLP/HTTP receiver" in_netns curl -sS -o /dev/null "$CLUSTER_OTLP_ENDPOINT/v1/traces"

# ---------------------------------------------------------------------------------------------
# 6. The kubelet, in a cgroup root of its own (removed by down.sh).

cluster_log "kubelet"
for hierarchy in /sys/fs/cgroup/*/; do
  [[ "$(stat -fc %T "$hierarchy")" == cgroupfs ]] || continue
  mkdir -p "$hierarchy$CLUSTER_CGROUP"
  if [[ -f "${hierarchy}cpuset.cpus" ]]; then
    cat "${hierarchy}cpuset.cpus" >"$hierarchy$CLUSTER_CGROUP/cpuset.cpus"
    cat "${hierarchy}cpuset.mems" >"$hierarchy$CLUSTER_CGROUP/cpuset.mems"
  fi
done
if [[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]]; then
  mkdir -p "/sys/fs/cgroup/$CLUSTER_CGROUP"
fi

cat >"$S/config/kubelet.yaml" <<EOF
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
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
containerRuntimeEndpoint: unix://$S/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CLUSTER_CGROUP
failCgroupV1: false
failSwapOn: false
clusterDNS: [$NODE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $S/config/resolv.conf
podLogsDir: $S/pod-logs
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
start kubelet "$CLUSTER_BIN/kubelet" --config "$S/config/kubelet.yaml" \
  --kubeconfig "$S/kubelet-client.kubeconfig" --root-dir "$S/kubelet" \
  --cert-dir "$S/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
wait_for kubelet "/healthz" in_netns curl -fsS http://127.0.0.1:10248/healthz
wait_for kubelet "Ready node $NODE_NAME" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s

# ---------------------------------------------------------------------------------------------
# 7. kube-proxy and CoreDNS

cluster_log "kube-proxy, CoreDNS"
cat >"$S/config/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $S/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the conntrack table size and timeouts alone: they are host-wide settings.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
start kube-proxy "$CLUSTER_BIN/kube-proxy" --config "$S/config/kube-proxy.yaml"

cat >"$S/config/Corefile" <<EOF
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    cache 30
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $CLUSTER_KUBECONFIG
        pods insecure
    }
}
EOF
start coredns "$CLUSTER_BIN/coredns" -conf "$S/config/Corefile"
wait_for kube-proxy "/healthz" in_netns curl -fsS http://127.0.0.1:10256/healthz
wait_for coredns "/ready" in_netns curl -fsS http://127.0.0.1:8181/ready
wait_for kube-controller-manager "default ServiceAccount" kc get serviceaccount default -n default
wait_for kube-controller-manager "kube-root-ca.crt" kc get configmap kube-root-ca.crt -n default

cluster_log "ready in ${SECONDS}s"
printf 'KUBECONFIG=%s\nCLUSTER_NETNS=%s\nCLUSTER_REGISTRY=%s\nCLUSTER_OTLP_ENDPOINT=%s\n' \
  "$CLUSTER_KUBECONFIG" "$CLUSTER_NETNS" "$CLUSTER_REGISTRY" "$CLUSTER_OTLP_ENDPOINT"
