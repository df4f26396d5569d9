# shellcheck shell=bash
# The prod overlay again (after the rollback to staging), with the autoscaling step's shorter
# HPA windows (ci/smoke/values-hpa.yaml): the Deployment goes to minReplicas, and the chart's
# soft topology spread puts the pods on more than one node (the real scheduler).
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" \
  --values "$CHART/values-prod.yaml" --values "$SMOKE_DIR/values-hpa.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
[[ "$(app_env)" == production ]] || fail "after the upgrade APP_ENV is '$(app_env)', want production"
until_true "$WAIT_SECONDS" "the prod rollout to settle" settled
if single_node "spreading pods over nodes"; then return 0; fi
spread="$(release_nodes | sort | uniq -c | awk '{printf "%s%s: %s", sep, $2, $1; sep = ", "}')"
nodes="$(release_nodes | sort -u | grep -c .)"
((nodes >= 2)) || fail "the prod pods all run on one node ($spread)"
log "spread: $(release_nodes | grep -c .) pods on $nodes nodes ($spread)"
