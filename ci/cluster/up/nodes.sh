# shellcheck shell=bash
# ci/cluster/up.sh step: every node's containerd, kubelet and kube-proxy (ci/cluster/node-lib.sh),
# then every node Ready. Sourced by up.sh.

pause_image
for ((n = 0; n < CLUSTER_NODES; n++)); do
  node_select "$n"
  cluster_log "$NODE_NAME: containerd, kubelet, kube-proxy"
  node_configure
  node_start
done
for ((n = 0; n < CLUSTER_NODES; n++)); do
  node_select "$n"
  node_ready
done
