# shellcheck shell=bash
# KEEP=1: the release installed again (prod overlay, the chart every upgrade installs) and
# left running, scraped by the kept Prometheus.
hm install "$RELEASE" "${CHART_ARGS[@]}" \
  --values "$CHART/values-prod.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
check_digest "$IMAGE_DIGEST"
# The uninstalled release's pods were never marked stale (its ServiceMonitor went with it).
prom_targets --recent 30
log "kept: release $RELEASE in namespace $NAMESPACE, $(kc get "$DEPLOYMENT" -o jsonpath='{.status.readyReplicas}') pods ready"
