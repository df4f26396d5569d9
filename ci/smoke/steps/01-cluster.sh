# shellcheck shell=bash disable=SC2034  # sets what later steps use
# The cluster the current kube context points at: its versions and nodes. The smoke test's own
# pods (load clients, the readiness dependency) and the monitoring stack run on one node,
# HELPER_NODE: the control-plane node when it takes pods, else the first node. The steps that
# drain or stop a node pick another one, so the measuring side is never what is disrupted.
kubectl version >&2
mapfile -t NODES < <(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
((${#NODES[@]})) || fail "the cluster has no nodes"
HELPER_NODE="$(kubectl get nodes -l node-role.kubernetes.io/control-plane \
  -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.taints[*].effect}{"\n"}{end}' |
  awk '$0 !~ /NoSchedule|NoExecute/ {print $1; exit}')"
[[ -n "$HELPER_NODE" ]] || HELPER_NODE="${NODES[0]}"
NODE_SELECTOR="{kubernetes.io/hostname: $HELPER_NODE}"
export MONITORING_NODE="$HELPER_NODE"
log "${#NODES[@]} node(s): ${NODES[*]}; the smoke test's own pods on $HELPER_NODE"
