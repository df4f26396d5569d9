# shellcheck shell=bash
# `helm upgrade` to staging, then to prod, while a client pod inside the cluster sends a
# bounded stream of requests to the Service: a graceful rollout fails none of them. With
# PREVIOUS_CHART_VERSION this is also the upgrade from the previous release to the new one.
start_client rollout-client
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" \
  --values "$CHART/values-staging.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
[[ "$(app_env)" == staging ]] || fail "after the upgrade APP_ENV is '$(app_env)', want staging"
until_true "$WAIT_SECONDS" "the staging rollout to settle" settled
check_digest "$IMAGE_DIGEST"
prom_targets
hm upgrade "$RELEASE" "${CHART_ARGS[@]}" \
  --values "$CHART/values-prod.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"
[[ "$(app_env)" == production ]] || fail "after the upgrade APP_ENV is '$(app_env)', want production"
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
until_true "$WAIT_SECONDS" "the old pods to finish terminating" settled
sleep 3
stop_client rollout-client "during the upgrades dev -> staging -> prod${PREVIOUS_CHART_VERSION:+ (release $PREVIOUS_CHART_VERSION -> $CHART_VERSION)}"
prom_targets
