# shellcheck shell=bash
# KEEP=1: the release installed again (prod overlay, the chart every upgrade installs) and
# left running, scraped by the kept Prometheus; a new release starts at minReplicas.
hm install "$RELEASE" "${CHART_ARGS[@]}" \
  --values "$CHART/values-prod.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
# A new release starts at the HPA's minimum: Helm's --wait returned with minReplicas Ready,
# never fewer pods than the PodDisruptionBudget keeps.
min="$(kc get hpa -l "$SELECTOR" -o jsonpath='{.items[0].spec.minReplicas}')"
ready="$(kc get "$DEPLOYMENT" -o jsonpath='{.status.readyReplicas}')"
[[ "$ready" == "$min" ]] || fail "the new prod release had $ready pods Ready after --wait, want minReplicas ($min)"
check_digest "$IMAGE_DIGEST"
# The uninstalled release's pods were never marked stale (its ServiceMonitor went with it).
prom_targets --recent 30
log "kept: release $RELEASE in namespace $NAMESPACE, $(kc get "$DEPLOYMENT" -o jsonpath='{.status.readyReplicas}') pods ready"
