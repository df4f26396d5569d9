# shellcheck shell=bash disable=SC2034  # sets what later steps use
# `helm install` of the dev overlay (the previous release's chart and image when
# PREVIOUS_CHART_VERSION is set), --wait; what the later steps need of the release
# (DEPLOYMENT, SERVICE, SERVICE_PORT, SERVICE_URL, JOB); the digest its pods run, the scrape
# targets.
hm upgrade --install "$RELEASE" "${FIRST_ARGS[@]}" \
  --values "$CHART/values-dev.yaml" "${IMAGE_ARGS[@]}" \
  --wait --timeout "$HELM_TIMEOUT"

DEPLOYMENT="$(kc get deployments -l "$SELECTOR" -o name)"
SERVICE="$(kc get services -l "$SELECTOR" -o name)"
[[ -n "$DEPLOYMENT" && -n "$SERVICE" ]] || fail "release $RELEASE has no deployment/service"
SERVICE_PORT="$(kc get "$SERVICE" -o jsonpath='{.spec.ports[?(@.name=="http")].port}')"
SERVICE_URL="http://$(kc get "$SERVICE" -o jsonpath='{.spec.clusterIP}'):$SERVICE_PORT/items/1"
# The Prometheus Operator's job label: the Service name.
JOB="${SERVICE#service/}"
kc rollout status "$DEPLOYMENT" --timeout "$ROLLOUT_TIMEOUT"
check_digest "$FIRST_DIGEST"
prom_targets
