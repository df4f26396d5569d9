# shellcheck shell=bash
# ci/cluster/up.sh step: the kubelet, in a cgroup root of its own (removed by down.sh).
# Sourced by up.sh.

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
wait_for kubelet "Ready node $NODE_NAME" cluster_kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
