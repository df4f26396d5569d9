# shellcheck shell=bash
# ci/cluster/up.sh step: the cluster's OCI registry and its OpenTelemetry collector, beside the
# node in its network namespace. Sourced by up.sh.

cluster_log "registry $CLUSTER_REGISTRY"
start registry "$CLUSTER_NETNS" "$TOOLS_BIN/crane" registry serve --address "$CLUSTER_REGISTRY" --disk "$S/registry"
wait_for registry "/v2/" in_netns curl -fsS "http://$CLUSTER_REGISTRY/v2/"

cluster_log "OpenTelemetry collector $CLUSTER_OTLP_ENDPOINT"
# The project's one collector configuration (ci/otelcol/config.yaml), copied into the state
# directory: the daemon's command line names the state directory, which is how down.sh and the
# tests know it as this cluster's.
cp "$REPO_ROOT/ci/otelcol/config.yaml" "$S/config/otelcol.yaml"
OTELCOL_ENDPOINT="${CLUSTER_OTLP_ENDPOINT#http://}" OTELCOL_SPANS_FILE="$S/traces/spans.jsonl" \
  OTELCOL_LOG_LEVEL=warn start collector "$CLUSTER_NETNS" "$TOOLS_BIN/otelcol-test" --config "$S/config/otelcol.yaml"
# Any answer means it listens (a GET on the traces path is refused with 405).
wait_for collector "OTLP/HTTP receiver" in_netns curl -sS -o /dev/null "$CLUSTER_OTLP_ENDPOINT/v1/traces"
