# shellcheck shell=bash
# ci/cluster/up.sh step: the cluster's log store, VictoriaLogs, beside the node in its network
# namespace like the registry and the collector (a process, not a pod: nothing can be pulled
# here, it must outlive every namespace the smoke test deletes, and the node agents that feed
# it read the nodes' pod log directories on this host). Its data is under $S/logstore; the
# node agents start with their nodes (ci/cluster/node-lib.sh). Sourced by up.sh.

cluster_log "log store (VictoriaLogs) $CLUSTER_LOGS_URL"
start log-store "$CLUSTER_NETNS" "$TOOLS_BIN/victoria-logs" -storageDataPath="$S/logstore" \
  -httpListenAddr="${CLUSTER_LOGS_URL#http://}" -retentionPeriod=1d -loggerLevel=WARN
wait_for log-store "/health" in_netns curl -fsS "$CLUSTER_LOGS_URL/health"
# The node agents' one configuration (ci/logagent/config.yaml), set per node by environment.
cp "$REPO_ROOT/ci/logagent/config.yaml" "$S/config/logagent.yaml"
